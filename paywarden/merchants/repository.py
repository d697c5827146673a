"""All SQL on merchants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Incident, Merchant, Order
from paywarden.models.orders import CALLBACK_FAILED, OPEN, PAID


async def get(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def by_key_hash(session: AsyncSession, key_hash: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.api_key_hash == key_hash))


async def by_name(session: AsyncSession, name: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.name == name))


async def count(session: AsyncSession) -> int:
    """The gateway's merchants (the Cards product's internal one left out)."""
    query = select(func.count()).select_from(Merchant).where(Merchant.is_internal.is_(False))
    return int(await session.scalar(query) or 0)


async def list_with_order_counts(session: AsyncSession) -> Sequence[tuple[Merchant, int]]:
    counts = (
        select(Order.merchant_id, func.count().label("n")).group_by(Order.merchant_id).subquery()
    )
    rows = await session.execute(
        select(Merchant, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.merchant_id == Merchant.id)
        .where(Merchant.is_internal.is_(False))  # the Cards product's own is not listed
        .order_by(Merchant.created_at)
    )
    return [(m, int(n)) for m, n in rows.all()]


@dataclass(frozen=True)
class MerchantStats:
    order_count: int
    completed_count: int
    callback_failed_count: int
    active_order_count: int
    total_received: int
    last_order_at: datetime | None
    incident_count: int


async def stats(session: AsyncSession, merchant_id: uuid.UUID) -> MerchantStats:
    paid = Order.status.in_(PAID)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(paid),
                func.count().filter(Order.status == CALLBACK_FAILED),
                func.count().filter(Order.status.in_(OPEN)),
                func.coalesce(func.sum(Order.amount_received).filter(paid), 0),
                func.max(Order.created_at),
            ).where(Order.merchant_id == merchant_id)
        )
    ).one()
    incidents = await session.scalar(
        select(func.count()).select_from(Incident).where(Incident.merchant_id == merchant_id)
    )
    return MerchantStats(
        order_count=int(row[0]),
        completed_count=int(row[1]),
        callback_failed_count=int(row[2]),
        active_order_count=int(row[3]),
        total_received=int(row[4]),
        last_order_at=row[5],
        incident_count=int(incidents or 0),
    )


async def latest_orders(
    session: AsyncSession, merchant_id: uuid.UUID, limit: int = 10
) -> Sequence[Order]:
    """The merchant's newest orders (its detail page)."""
    rows = await session.scalars(
        select(Order)
        .where(Order.merchant_id == merchant_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return rows.all()


async def lock_merchants(session: AsyncSession) -> None:
    """Serialize check-then-create of merchants across processes (PostgreSQL; SQLite already is)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE merchants IN SHARE ROW EXCLUSIVE MODE"))
