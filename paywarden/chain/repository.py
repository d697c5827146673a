"""All SQL of the chain scanner: its cursor, the leader lock, transfers and address lookups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import ChainTransfer, DepositAddress, Order, ScannerState
from paywarden.models.chain import FINAL, SEEN

# Arbitrary constant key of the PostgreSQL advisory lock held by the one scanning worker.
_SCAN_LOCK = 0x5057_0002

# Keys looked up per query: well under SQLite's and asyncpg's bound-parameter limits.
_CHUNK = 500


async def try_lead(session: AsyncSession) -> bool:
    """Become the scanning leader for this transaction; False while another worker is.

    SQLite runs one worker, and its write transactions are serialised anyway.
    """
    if session.bind.dialect.name != "postgresql":
        return True
    return bool(await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({_SCAN_LOCK})")))


async def state(session: AsyncSession, key: str, *, lock: bool = False) -> ScannerState | None:
    query = select(ScannerState).where(ScannerState.key == key)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def any_state(session: AsyncSession) -> ScannerState | None:
    """The most recently updated scanner row (one network per deployment)."""
    return await session.scalar(
        select(ScannerState).order_by(ScannerState.updated_at.desc()).limit(1)
    )


async def addresses(session: AsyncSession, wanted: Iterable[str]) -> dict[str, DepositAddress]:
    """Our deposit addresses among `wanted` (one query for a whole set of `to` addresses)."""
    values = sorted(set(wanted))
    if not values:
        return {}
    rows = await session.scalars(select(DepositAddress).where(DepositAddress.address.in_(values)))
    return {row.address: row for row in rows.all()}


async def by_keys(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], ChainTransfer]:
    """The stored transfers among `keys` ((tx_hash, event_index) pairs)."""
    wanted = set(keys)
    hashes = sorted({tx for tx, _ in wanted})
    found: dict[tuple[str, int], ChainTransfer] = {}
    for start in range(0, len(hashes), _CHUNK):
        rows = await session.scalars(
            select(ChainTransfer).where(ChainTransfer.tx_hash.in_(hashes[start : start + _CHUNK]))
        )
        found.update({row.key: row for row in rows.all() if row.key in wanted})
    return found


async def lock_orders(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Order]:
    """Lock the orders (FOR UPDATE, in id order so that two transactions never deadlock)."""
    ordered = sorted(set(ids))
    found: dict[uuid.UUID, Order] = {}
    for start in range(0, len(ordered), _CHUNK):
        rows = await session.scalars(
            select(Order)
            .where(Order.id.in_(ordered[start : start + _CHUNK]))
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        found.update({row.id: row for row in rows.all()})
    return found


async def get(session: AsyncSession, transfer_id: uuid.UUID) -> ChainTransfer | None:
    return await session.get(ChainTransfer, transfer_id)


async def seen_between(session: AsyncSession, low: int, high: int) -> Sequence[ChainTransfer]:
    """`seen` transfers in blocks low..high, oldest first."""
    rows = await session.scalars(
        select(ChainTransfer)
        .where(
            ChainTransfer.status == SEEN,
            ChainTransfer.block_number >= low,
            ChainTransfer.block_number <= high,
        )
        .order_by(ChainTransfer.block_number, ChainTransfer.tx_hash, ChainTransfer.event_index)
    )
    return rows.all()


async def order_sums(session: AsyncSession, order_id: uuid.UUID) -> tuple[int, int]:
    """(final, seen) micro-USDT of the order's transfers; dropped ones count for nothing."""
    rows = await session.execute(
        select(ChainTransfer.status, func.coalesce(func.sum(ChainTransfer.amount), 0))
        .where(ChainTransfer.order_id == order_id, ChainTransfer.status.in_((SEEN, FINAL)))
        .group_by(ChainTransfer.status)
    )
    sums = {status: int(total) for status, total in rows.all()}
    return sums.get(FINAL, 0), sums.get(SEEN, 0)


async def orders_sums(
    session: AsyncSession, order_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """`order_sums` of many orders, in one query per chunk."""
    ids = sorted(set(order_ids))
    sums: dict[uuid.UUID, tuple[int, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(
                ChainTransfer.order_id,
                ChainTransfer.status,
                func.coalesce(func.sum(ChainTransfer.amount), 0),
            )
            .where(
                ChainTransfer.order_id.in_(ids[start : start + _CHUNK]),
                ChainTransfer.status.in_((SEEN, FINAL)),
            )
            .group_by(ChainTransfer.order_id, ChainTransfer.status)
        )
        for order_id, status, total in rows.all():
            final, seen = sums.get(order_id, (0, 0))
            if status == FINAL:
                final += int(total)
            else:
                seen += int(total)
            sums[order_id] = (final, seen)
    return sums
