"""All SQL on orders, their events and the daily rollup."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.models import ChainTransfer, Merchant, Order, OrderDailyStats, OrderEvent
from paywarden.models.chain import SEEN
from paywarden.orders.filters import OrderFilter


async def get(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    return await session.get(Order, order_id)


async def by_external_id(
    session: AsyncSession, merchant_id: uuid.UUID, external_id: str
) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.merchant_id == merchant_id, Order.external_id == external_id)
    )


_orders = Order.__table__
# The create path runs these for every order: built once, they are not compiled again per call.
_INSERT_ORDER = {
    name: dialect_insert(_orders)
    .on_conflict_do_nothing(index_elements=["merchant_id", "external_id"])
    .returning(_orders.c.id)
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_INSERT_EVENT = OrderEvent.__table__.insert()


async def insert_unless_taken(session: AsyncSession, values: dict[str, Any]) -> bool:
    """INSERT an order row unless its (merchant_id, external_id) exists; False when it does.

    `values` are column names (the JSON column is `metadata`).
    """
    result = await session.execute(_INSERT_ORDER[session.bind.dialect.name], values)
    return result.first() is not None


async def insert_event(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_INSERT_EVENT, values)


async def page(
    session: AsyncSession, f: OrderFilter, *, offset: int, limit: int
) -> tuple[list[tuple[Order, str]], int]:
    query = (
        select(Order, Merchant.name)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(
            *listing.given((Order.merchant_id, f.merchant_id), (Order.status, f.status)),
            *listing.within(Order.created_at, f.since, f.until),
        )
    )
    return await listing.page(
        session,
        query,
        order_by=(Order.created_at.desc(), Order.id.desc()),
        offset=offset,
        limit=limit,
        count_from=Order,  # every order has its merchant: the join adds a name, not a row
    )


async def events(session: AsyncSession, order_id: uuid.UUID) -> Sequence[OrderEvent]:
    rows = await session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id)
        .order_by(OrderEvent.created_at, OrderEvent.id)
    )
    return rows.all()


async def due_to_expire(session: AsyncSession, now: datetime, limit: int) -> Sequence[Order]:
    """Pending orders past expiry with no transfer waiting for finality (a `seen` one: the
    order waits for it); locked so that workers split them."""
    waiting = (
        select(ChainTransfer.id)
        .where(ChainTransfer.order_id == Order.id, ChainTransfer.status == SEEN)
        .exists()
    )
    rows = await session.scalars(
        select(Order)
        .where(Order.status == "pending", Order.expires_at <= now, ~waiting)
        .order_by(Order.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return rows.all()


async def transfers(session: AsyncSession, order_id: uuid.UUID) -> Sequence[ChainTransfer]:
    """The order's chain transfers, in chain order."""
    rows = await session.scalars(
        select(ChainTransfer)
        .where(ChainTransfer.order_id == order_id)
        .order_by(ChainTransfer.block_number, ChainTransfer.tx_hash, ChainTransfer.event_index)
    )
    return rows.all()


def _bump_statement(dialect_insert: Any) -> Any:
    table = OrderDailyStats.__table__
    statement = dialect_insert(table)
    return statement.on_conflict_do_update(
        index_elements=["day", "shard"],
        set_={
            "order_count": table.c.order_count + statement.excluded.order_count,
            "paid_count": table.c.paid_count + statement.excluded.paid_count,
            "total_received": table.c.total_received + statement.excluded.total_received,
        },
    )


_BUMP = {"postgresql": _bump_statement(pg_insert), "sqlite": _bump_statement(sqlite_insert)}


async def bump_daily(
    session: AsyncSession,
    day: date,
    shard: int,
    *,
    orders: int = 0,
    paid: int = 0,
    received: int = 0,
) -> None:
    """Add to one rollup row, creating it if needed (an upsert on both databases)."""
    await session.execute(
        _BUMP[session.bind.dialect.name],
        {
            "day": day,
            "shard": shard,
            "order_count": orders,
            "paid_count": paid,
            "total_received": received,
        },
    )


async def bump_received(session: AsyncSession, order: Order, delta: int, shard: int) -> None:
    """Keep the rollup right when a paid order's amount_received changes by `delta`
    (unpaid orders are not in total_received, so nothing moves for them)."""
    if delta and order.status in ("confirmed", "completed", "callback_failed"):
        await bump_daily(session, order.created_day, shard, received=delta)


@dataclass(frozen=True)
class Totals:
    order_count: int
    paid_count: int
    total_received: int


async def totals(session: AsyncSession, since: date | None = None) -> Totals:
    query = select(
        func.coalesce(func.sum(OrderDailyStats.order_count), 0),
        func.coalesce(func.sum(OrderDailyStats.paid_count), 0),
        func.coalesce(func.sum(OrderDailyStats.total_received), 0),
    )
    if since is not None:
        query = query.where(OrderDailyStats.day >= since)
    row = (await session.execute(query)).one()
    return Totals(int(row[0]), int(row[1]), int(row[2]))


async def received_by_day(session: AsyncSession, since: date) -> dict[date, int]:
    rows = await session.execute(
        select(OrderDailyStats.day, func.sum(OrderDailyStats.total_received))
        .where(OrderDailyStats.day >= since)
        .group_by(OrderDailyStats.day)
    )
    return {day: int(total) for day, total in rows.all()}


async def rebuild_daily(session: AsyncSession) -> None:
    """Recompute the rollup from the orders themselves (a check, and for bulk-loaded data)."""
    from sqlalchemy import case, delete, insert

    paid = Order.status.in_(("confirmed", "completed", "callback_failed"))
    await session.execute(delete(OrderDailyStats))
    await session.execute(
        insert(OrderDailyStats).from_select(
            ["day", "shard", "order_count", "paid_count", "total_received"],
            select(
                Order.created_day,
                func.min(0),
                func.count(),
                func.sum(case((paid, 1), else_=0)),
                func.sum(case((paid, Order.amount_received), else_=0)),
            ).group_by(Order.created_day),
        )
    )


async def lock_many(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Order]:
    """Lock these orders, in id order (two batches never wait on each other in a circle)."""
    rows = await session.scalars(
        select(Order)
        .where(Order.id.in_(ids))
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {o.id: o for o in rows}
