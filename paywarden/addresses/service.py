"""The deposit address pool: derive ahead, hand out one address per open order, take back later.

An order takes a free address in one locking statement, so no two open orders ever share one.
When none is free the order derives the next one itself; a background loop keeps
ADDRESS_POOL_MIN_FREE ready so that this is rare.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.addresses import repository as repo
from paywarden.addresses.repository import Claim, PoolStats
from paywarden.kit.security import sha256_hex
from paywarden.kit.time import utcnow
from paywarden.models import DepositAddress
from paywarden.models.addresses import ALLOCATED, FREE
from paywarden.tron.keys import derive_address


@dataclass(frozen=True)
class Pool:
    xpub: str
    min_free: int
    reuse_cooldown: timedelta

    @property
    def xpub_id(self) -> str:
        return sha256_hex(self.xpub)[:16]


async def allocate(db: AsyncSession, pool: Pool, order_id: uuid.UUID) -> Claim:
    now = utcnow()
    claim = await repo.take_free(db, pool.xpub_id, order_id, now)
    if claim is not None:
        return claim
    await repo.lock_derivation(db)
    [fresh] = await _derive(db, pool, 1, status=ALLOCATED, order_id=order_id, now=now)
    return Claim(id=fresh.id, address=fresh.address)


async def give_back(db: AsyncSession, claim: Claim, order_id: uuid.UUID) -> None:
    """Undo a claim whose order was not made after all: the address is free again at once."""
    await repo.release(db, claim.id, order_id, utcnow())


async def top_up(db: AsyncSession, pool: Pool) -> int:
    """Derive addresses until MIN_FREE are free; returns how many were added."""
    await repo.lock_derivation(db)  # before counting: workers starting together derive once
    now = utcnow()
    missing = pool.min_free - await repo.free_count(db, pool.xpub_id, now)
    if missing <= 0:
        return 0
    await _derive(db, pool, missing, status=FREE, order_id=None, now=now)
    return missing


async def _derive(  # the caller holds the derivation lock
    db: AsyncSession,
    pool: Pool,
    count: int,
    *,
    status: str,
    order_id: uuid.UUID | None,
    now: datetime,
) -> list[DepositAddress]:
    start = await repo.next_index(db, pool.xpub_id)
    rows = [
        DepositAddress(
            xpub_id=pool.xpub_id,
            derivation_index=i,
            address=derive_address(pool.xpub, i),
            status=status,
            order_id=order_id,
            available_at=now,
            allocated_at=now if order_id else None,
        )
        for i in range(start, start + count)
    ]
    db.add_all(rows)
    await db.flush()
    return rows


async def release_after_cooldown(
    db: AsyncSession, pool: Pool, address_id: uuid.UUID, order_id: uuid.UUID
) -> None:
    """Give the address back; it is handed out again only after the reuse cooldown."""
    await repo.release(db, address_id, order_id, utcnow() + pool.reuse_cooldown)


async def stats(db: AsyncSession, pool: Pool) -> PoolStats:
    return await repo.pool_stats(db, pool.xpub_id, utcnow())
