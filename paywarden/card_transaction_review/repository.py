"""All SQL of the card-transaction views. Every breakdown is one GROUP BY over a time window
(read from the covering `created_at` index), ordered and limited in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transaction_review.filters import Dimension, TxFilter
from paywarden.kit import listing
from paywarden.models import Card, CardTransaction, Client

T = CardTransaction
# Statuses after an approval that took or holds the client's money: its volume.
SPENT = ("approved", "settled", "refunded")
# Every status an authorization reaches once approved (the approval rate's numerator).
APPROVED = ("approved", "settled", "reversed", "refunded", "expired")
DECLINED = "declined"


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _where(f: TxFilter) -> list[ColumnElement[bool]]:
    where = listing.within(T.created_at, f.since, f.until)
    where += listing.given(
        (T.client_id, f.client_id),
        (T.card_id, f.card_id),
        (T.status, f.status),
        (T.decline_reason, f.decline_reason),
        (T.mcc, f.mcc),
        (T.country, f.country),
    )
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
    query = (
        select(T, Card.last4, Client.external_user_id)
        .outerjoin(Card, Card.id == T.card_id)
        .outerjoin(Client, Client.id == T.client_id)
        .where(*_where(f))
    )
    rows, total = await listing.page(
        session, query, order_by=(T.created_at.desc(), T.id), offset=offset, limit=limit
    )
    return [TxRow(t, last4, ext) for t, last4, ext in rows], total


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
    key = {
        "merchant": T.merchant,
        "decline_reason": T.decline_reason,
        "mcc": T.mcc,
        "client_volume": T.client_id,
        "client_declines": T.client_id,
    }[by]
    where = listing.within(T.created_at, since, until)
    if by == "decline_reason":
        where.append(T.status == DECLINED)
    # Every column read here is in ix_card_transactions_created_breakdown: the window is read
    # from the index alone. Clients are named after the limit, not joined per transaction.
    query = select(key.label("k"), count, approved, declined, eur, usd).where(*where).group_by(key)
    if by == "client_volume":
        # USD volume in EUR at the operators' rate, so the two currencies rank together.
        in_eur = eur + (usd * 1_000_000) // usd_per_eur_micros
        query = query.order_by(in_eur.desc(), count.desc(), key)
    elif by == "client_declines":
        query = query.having(declined > 0).order_by(declined.desc(), count.desc(), key)
    else:
        query = query.order_by(count.desc(), key)
    found = (await session.execute(query.limit(limit))).mappings().all()
    labels: dict[Any, str | None] = {m["k"]: m["k"] for m in found}
    if by in ("client_volume", "client_declines") and found:
        named = select(Client.id, Client.external_user_id).where(Client.id.in_(list(labels)))
        labels = dict((await session.execute(named)).all())
    return [
        Group(
            key=str(m["k"]) if m["k"] is not None else None,
            label=labels.get(m["k"]),
            count=int(m["n"]),
            approved=int(m["approved"]),
            declined=int(m["declined"]),
            volume={"EUR": int(m["eur"]), "USD": int(m["usd"])},
        )
        for m in found
    ]
