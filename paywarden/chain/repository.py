"""All SQL of the chain scanner: its cursor, the leader lock, transfers and address lookups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import ChainTransfer, DepositAddress, ScannerState
from paywarden.models.chain import FINAL, SEEN

# Arbitrary constant key of the PostgreSQL advisory lock held by the one scanning worker.
_SCAN_LOCK = 0x5057_0002

_transfers = ChainTransfer.__table__
_INSERT_TRANSFER = {
    name: dialect_insert(_transfers)
    .on_conflict_do_nothing(index_elements=["tx_hash", "event_index"])
    .returning(_transfers.c.id)
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


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


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """INSERT a transfer unless its (tx_hash, event_index) is stored; False when it is."""
    result = await session.execute(_INSERT_TRANSFER[session.bind.dialect.name], values)
    return result.first() is not None


async def by_key(session: AsyncSession, tx_hash: str, event_index: int) -> ChainTransfer | None:
    return await session.scalar(
        select(ChainTransfer).where(
            ChainTransfer.tx_hash == tx_hash, ChainTransfer.event_index == event_index
        )
    )


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
