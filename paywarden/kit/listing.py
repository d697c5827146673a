"""Filtered, paged lists: the conditions a filter adds and one page with its total.

Repositories name their columns and values; nothing here knows a domain.

    query = select(Order).where(
        *given((Order.merchant_id, f.merchant_id), (Order.status, f.status)),
        *within(Order.created_at, f.since, f.until),
    )
    rows, total = await page(
        session, query, order_by=(Order.created_at.desc(), Order.id.desc()),
        offset=offset, limit=limit,
    )
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.util import find_tables

Column = ColumnElement[Any] | InstrumentedAttribute[Any]


def _is_given(value: object) -> bool:
    # A filter field left out of a form or query string is None or "": no condition either way.
    return value is not None and value != ""


def given(*pairs: tuple[Column, object]) -> list[ColumnElement[bool]]:
    """`column == value` for each pair whose value is given (not None, not "")."""
    return [column == value for column, value in pairs if _is_given(value)]


def within(column: Column, since: object = None, until: object = None) -> list[ColumnElement[bool]]:
    """`column >= since` and `column <= until` (both ends inclusive), each only when given."""
    where: list[ColumnElement[bool]] = []
    if _is_given(since):
        where.append(column >= since)
    if _is_given(until):
        where.append(column <= until)
    return where


def _counted(query: Select[Any], count_from: type | FromClause | None) -> Select[Any]:
    if count_from is None:
        return query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    table = inspect(count_from).selectable
    where = query.whereclause
    if where is not None and any(t is not table for t in find_tables(where, check_columns=True)):
        # Counted without its joins, such a query would count a cross product.
        raise ValueError("count_from: the query's conditions must name that table only")
    counted = select(func.count()).select_from(table)
    return counted if where is None else counted.where(where)


async def page(
    session: AsyncSession,
    query: Select[Any],
    *,
    order_by: Sequence[Column],
    offset: int,
    limit: int,
    count_from: type | FromClause | None = None,
) -> tuple[list[Any], int]:
    """One page of `query` in `order_by` order, and how many rows the whole query holds.

    A query of one entity or column gives its values; of several, their rows (tuples).
    The count keeps the query's joins and conditions. `count_from` (the listed model) counts
    that table alone under the same conditions: for joins that only add a column to each row
    (a parent's name), which the count need not pay for.
    """
    total = await session.scalar(_counted(query, count_from))
    listed = query.order_by(*order_by).offset(offset).limit(limit)
    if len(query.column_descriptions) == 1:
        rows: list[Any] = list((await session.scalars(listed)).all())
    else:
        rows = [tuple(row) for row in (await session.execute(listed)).all()]
    return rows, int(total or 0)
