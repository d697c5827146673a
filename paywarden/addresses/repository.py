"""All SQL on deposit addresses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import DepositAddress
from paywarden.models.addresses import ALLOCATED, FREE

# Arbitrary constant key of the PostgreSQL advisory lock that serializes derivation.
_DERIVE_LOCK = 0x5057_0001


@dataclass(frozen=True)
class Claim:
    """An address now held by an order."""

    id: uuid.UUID
    address: str


_addresses = DepositAddress.__table__
# Built once: this runs for every order, and compiling it each time costs more than running it.
_TAKE_FREE = (
    update(_addresses)
    .where(
        _addresses.c.id
        == select(_addresses.c.id)
        .where(
            _addresses.c.xpub_id == bindparam("p_xpub_id"),
            _addresses.c.status == FREE,
            _addresses.c.available_at <= bindparam("p_now"),
        )
        .order_by(_addresses.c.available_at, _addresses.c.derivation_index)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        _addresses.c.status == FREE,
    )
    .values(status=ALLOCATED, order_id=bindparam("p_order_id"), allocated_at=bindparam("p_now"))
    .returning(_addresses.c.id, _addresses.c.address)
)


async def take_free(
    session: AsyncSession, xpub_id: str, order_id: uuid.UUID, now: datetime
) -> Claim | None:
    """Claim one free address in a single statement; concurrent claims skip each other's rows."""
    result = await session.execute(
        _TAKE_FREE, {"p_xpub_id": xpub_id, "p_now": now, "p_order_id": order_id}
    )
    row = result.first()
    return Claim(id=row.id, address=row.address) if row else None


async def lock_derivation(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({_DERIVE_LOCK})"))


async def next_index(session: AsyncSession, xpub_id: str) -> int:
    current = await session.scalar(
        select(func.max(DepositAddress.derivation_index)).where(DepositAddress.xpub_id == xpub_id)
    )
    return 0 if current is None else int(current) + 1


async def free_count(session: AsyncSession, xpub_id: str, now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(DepositAddress)
            .where(
                DepositAddress.xpub_id == xpub_id,
                DepositAddress.status == FREE,
                DepositAddress.available_at <= now,
            )
        )
        or 0
    )


async def release(
    session: AsyncSession, address_id: uuid.UUID, order_id: uuid.UUID, available_at: datetime
) -> None:
    await session.execute(
        update(DepositAddress)
        .where(DepositAddress.id == address_id, DepositAddress.order_id == order_id)
        .values(status=FREE, order_id=None, available_at=available_at)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class PoolStats:
    total: int
    free: int
    allocated: int
    cooling: int


async def pool_stats(session: AsyncSession, xpub_id: str, now: datetime) -> PoolStats:
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(
                    DepositAddress.status == FREE, DepositAddress.available_at <= now
                ),
                func.count().filter(DepositAddress.status == ALLOCATED),
            ).where(DepositAddress.xpub_id == xpub_id)
        )
    ).one()
    total, free, allocated = (int(v) for v in row)
    return PoolStats(total=total, free=free, allocated=allocated, cooling=total - free - allocated)
