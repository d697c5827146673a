"""All SQL of the card-transaction views. Every breakdown is one GROUP BY over a time window
(read from the covering `created_at` index), ordered and limited in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.analytics.filters import Dimension, TxFilter
from paywarden.models import (
    Card,
    CardExposure,
    CardTransaction,
    Client,
    IssuerEvent,
    LedgerAccount,
    LedgerHold,
    LedgerTransaction,
)
from paywarden.models.cards import CARD_ACTIVE
from paywarden.models.ledger import CLIENT, HELD

T = CardTransaction
# Statuses after an approval that took or holds the client's money: its volume.
SPENT = ("approved", "settled", "refunded")
# Every status an authorization reaches once approved (the approval rate's numerator).
APPROVED = ("approved", "settled", "reversed", "refunded", "expired")
DECLINED = "declined"
CURRENCIES = ("EUR", "USD")


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
    key = {
        "merchant": T.merchant,
        "decline_reason": T.decline_reason,
        "mcc": T.mcc,
        "client_volume": T.client_id,
        "client_declines": T.client_id,
    }[by]
    where = _window(since, until)
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


# ---- the overview's figures of state ----------------------------------------------------


async def available_to_spend(session: AsyncSession, month: str) -> dict[str, int]:
    """Per currency, what active cards could still spend this month: for each client, the
    smaller of their cards' free limit (limit less the month's spend) and their wallet's
    available balance (balance less holds), summed over clients."""
    spent = case((Card.spend_month == month, Card.spent_this_month), else_=0)
    free_one = Card.monthly_limit - spent
    free = (
        select(
            Card.client_id,
            Card.currency,
            func.sum(case((free_one > 0, free_one), else_=0)).label("free"),
        )
        .where(Card.status == CARD_ACTIVE)
        .group_by(Card.client_id, Card.currency)
        .subquery()
    )
    held = (
        select(LedgerHold.account_id, func.sum(LedgerHold.amount).label("held"))
        .where(LedgerHold.status == HELD)
        .group_by(LedgerHold.account_id)
        .subquery()
    )
    wallet = LedgerAccount.balance - func.coalesce(held.c.held, 0)
    usable = case((wallet > 0, wallet), else_=0)
    least = case((free.c.free < usable, free.c.free), else_=usable)
    query = (
        select(free.c.currency, func.coalesce(func.sum(least), 0))
        .select_from(free)
        .join(
            LedgerAccount,
            and_(
                LedgerAccount.client_id == free.c.client_id,
                LedgerAccount.currency == free.c.currency,
                LedgerAccount.kind == CLIENT,
            ),
        )
        .outerjoin(held, held.c.account_id == LedgerAccount.id)
        .group_by(free.c.currency)
    )
    found = {currency: int(total) for currency, total in (await session.execute(query)).all()}
    return {c: found.get(c, 0) for c in CURRENCIES}


async def has_ledger(session: AsyncSession) -> bool:
    return await session.scalar(select(LedgerTransaction.id).limit(1)) is not None


async def has_issuer_events(session: AsyncSession) -> bool:
    return await session.scalar(select(IssuerEvent.id).limit(1)) is not None


async def exposure(session: AsyncSession) -> Sequence[CardExposure]:
    return (await session.scalars(select(CardExposure))).all()


async def save_exposure(session: AsyncSession, values: dict[str, int], at: datetime) -> None:
    """Upsert each currency's figure (replicas refreshing at once both succeed)."""
    dialect = session.bind.dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CardExposure)
    statement = statement.on_conflict_do_update(
        index_elements=["currency"],
        set_={
            "available_to_spend": statement.excluded.available_to_spend,
            "computed_at": statement.excluded.computed_at,
        },
    )
    await session.execute(
        statement,
        [{"currency": c, "available_to_spend": v, "computed_at": at} for c, v in values.items()],
    )
