"""All SQL on top-ups and the internal merchant's row."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.kit.time import utcnow
from paywarden.models import Merchant, Topup


async def internal_merchant_id(session: AsyncSession) -> uuid.UUID | None:
    return await session.scalar(
        select(Merchant.id).where(Merchant.is_internal.is_(True)).order_by(Merchant.created_at)
    )


async def insert_merchant_unless_named(session: AsyncSession, values: dict[str, object]) -> None:
    """Insert the merchant unless one of that name exists (replicas start at once)."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(Merchant.__table__).values(**values, created_at=now, updated_at=now)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


async def merchant_by_name(session: AsyncSession, name: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.name == name))


def add(session: AsyncSession, topup: Topup) -> None:
    session.add(topup)


async def get(session: AsyncSession, topup_id: uuid.UUID) -> Topup | None:
    return await session.get(Topup, topup_id)


async def by_order(
    session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False
) -> Topup | None:
    query = select(Topup).where(Topup.order_id == order_id)
    if lock:
        # Populate: a row already in the session must show what the lock holder committed.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def page_for_client(
    session: AsyncSession, client_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[Topup], int]:
    return await listing.page(
        session,
        select(Topup).where(Topup.client_id == client_id),
        order_by=(Topup.created_at.desc(), Topup.id.desc()),
        offset=offset,
        limit=limit,
    )


async def latest_for_client(session: AsyncSession, client_id: uuid.UUID) -> Topup | None:
    return await session.scalar(
        select(Topup)
        .where(Topup.client_id == client_id)
        .order_by(Topup.created_at.desc(), Topup.id.desc())
        .limit(1)
    )
