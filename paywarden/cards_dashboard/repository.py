"""All SQL of the cards dashboard that the `card_stats` rollup does not answer: figures that
are a state of many rows (what active cards could still spend), shared between replicas."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import (
    Card,
    CardExposure,
    IssuerEvent,
    LedgerAccount,
    LedgerHold,
    LedgerTransaction,
)
from paywarden.models.cards import CARD_ACTIVE
from paywarden.models.ledger import CLIENT, HELD, WALLET_CURRENCIES


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
    return {c: found.get(c, 0) for c in WALLET_CURRENCIES}


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
