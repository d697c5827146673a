"""All SQL of the card-transaction views. Every breakdown is one GROUP BY over a time window
(the `created_at` index narrows it), ordered and limited in the database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Card, CardTransaction, Client

T = CardTransaction
Dimension = Literal["merchant", "decline_reason", "mcc", "client_volume", "client_declines"]
# Statuses after an approval that took or holds the client's money: its volume.
SPENT = ("approved", "settled", "refunded")
# Every status an authorization reaches once approved (the approval rate's numerator).
APPROVED = ("approved", "settled", "reversed", "refunded", "expired")
DECLINED = "declined"
CURRENCIES = ("EUR", "USD")


@dataclass(frozen=True)
class TxFilter:
    client_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    status: str | None = None
    decline_reason: str | None = None
    merchant: str | None = None  # a substring, any case
    mcc: str | None = None
    country: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # inclusive


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _window(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(T.created_at >= since)
    if until is not None:
        where.append(T.created_at <= until)
    return where


def _where(f: TxFilter) -> list[ColumnElement[bool]]:
    where = _window(f.since, f.until)
    for column, value in (
        (T.client_id, f.client_id),
        (T.card_id, f.card_id),
        (T.status, f.status),
        (T.decline_reason, f.decline_reason),
        (T.mcc, f.mcc),
        (T.country, f.country),
    ):
        if value is not None:
            where.append(column == value)
    if f.merchant:
        where.append(func.lower(T.merchant).like(_like(f.merchant), escape="\\"))
    return where


@dataclass(frozen=True)
class TxRow:
    tx: CardTransaction
    card_last4: str | None
    external_user_id: str | None


async def page(
    session: AsyncSession, f: TxFilter, offset: int, limit: int
) -> tuple[list[TxRow], int]:
    """Newest first, each with its card's last four digits and its client's external id."""
    where = _where(f)
    total = await session.scalar(select(func.count()).select_from(T).where(*where))
    rows = await session.execute(
        select(T, Card.last4, Client.external_user_id)
        .outerjoin(Card, Card.id == T.card_id)
        .outerjoin(Client, Client.id == T.client_id)
        .where(*where)
        .order_by(T.created_at.desc(), T.id)
        .offset(offset)
        .limit(limit)
    )
    return [TxRow(t, last4, ext) for t, last4, ext in rows.all()], int(total or 0)


@dataclass(frozen=True)
class Group:
    key: str | None
    label: str | None
    count: int
    approved: int
    declined: int
    volume: dict[str, int]  # cents per currency, of SPENT transactions


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _volume(currency: str) -> Any:
    spent = T.status.in_(SPENT) & (T.currency == currency)
    return func.coalesce(
        func.sum(case((spent, func.coalesce(T.settled_amount, T.amount)), else_=0)), 0
    )


async def breakdown(
    session: AsyncSession,
    by: Dimension,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    usd_per_eur_micros: int,
) -> Sequence[Group]:
    count = func.count().label("n")
    approved = _count_if(T.status.in_(APPROVED)).label("approved")
    declined = _count_if(T.status == DECLINED).label("declined")
    eur, usd = _volume("EUR").label("eur"), _volume("USD").label("usd")
    where = _window(since, until)
    if by in ("client_volume", "client_declines"):
        key, group_by = T.client_id, [T.client_id, Client.external_user_id]
        lbl = Client.external_user_id.label("lbl")
        query = select(key.label("k"), lbl, count, approved, declined, eur, usd).join(
            Client, Client.id == T.client_id
        )
    else:
        key = {"merchant": T.merchant, "decline_reason": T.decline_reason, "mcc": T.mcc}[by]
        group_by = [key]
        query = select(key.label("k"), key.label("lbl"), count, approved, declined, eur, usd)
    if by == "decline_reason":
        where.append(T.status == DECLINED)
    query = query.where(*where).group_by(*group_by)
    if by == "client_volume":
        # USD volume in EUR at the operators' rate, so the two currencies rank together.
        in_eur = eur + (usd * 1_000_000) // usd_per_eur_micros
        query = query.order_by(in_eur.desc(), count.desc(), key)
    elif by == "client_declines":
        query = query.having(declined > 0).order_by(declined.desc(), count.desc(), key)
    else:
        query = query.order_by(count.desc(), key)
    out: list[Group] = []
    for m in (await session.execute(query.limit(limit))).mappings().all():
        out.append(
            Group(
                key=str(m["k"]) if m["k"] is not None else None,
                label=m["lbl"],
                count=int(m["n"]),
                approved=int(m["approved"]),
                declined=int(m["declined"]),
                volume={"EUR": int(m["eur"]), "USD": int(m["usd"])},
            )
        )
    return out
