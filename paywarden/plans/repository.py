"""All SQL on plans and the EUR/USD rate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.models import FxRate, Plan


async def lock_plans(session: AsyncSession) -> None:
    """Serialize plan writes across processes (PostgreSQL; SQLite already is).

    Name checks and the switch of the default plan then never race into a unique violation.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE plans IN SHARE ROW EXCLUSIVE MODE"))


async def get(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    return await session.get(Plan, plan_id)


async def by_name(session: AsyncSession, name: str) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.name == name))


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Plan)) or 0)


_ORDER = (Plan.sort_order, Plan.created_at, Plan.name)


async def list_all(session: AsyncSession) -> Sequence[Plan]:
    return (await session.scalars(select(Plan).order_by(*_ORDER))).all()


async def home_catalog(session: AsyncSession) -> Sequence[Plan]:
    """What clients may pick themselves: neither hidden from home nor archived."""
    query = select(Plan).where(Plan.hidden_from_home.is_(False), Plan.archived.is_(False))
    return (await session.scalars(query.order_by(*_ORDER))).all()


async def default_plan(session: AsyncSession) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.is_default.is_(True)))


async def clear_default(session: AsyncSession, keep: uuid.UUID | None) -> Plan | None:
    """Unset the default flag of the current default (unless it is `keep`); the row it was on.

    Flushed at once, so that setting the new default afterwards never meets the unique index.
    """
    current = await default_plan(session)
    if current is None or current.id == keep:
        return None
    current.is_default = False
    await session.flush()
    return current


async def latest_rate(session: AsyncSession) -> FxRate | None:
    return await session.scalar(select(FxRate).order_by(FxRate.id.desc()).limit(1))


async def rate_history(session: AsyncSession, offset: int, limit: int) -> tuple[list[FxRate], int]:
    """Every rate set, newest first (a page of them), and how many there are."""
    return await listing.page(
        session, select(FxRate), order_by=(FxRate.id.desc(),), offset=offset, limit=limit
    )


async def add_rate(session: AsyncSession, rate: FxRate) -> FxRate:
    session.add(rate)
    await session.flush()
    return rate
