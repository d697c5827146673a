"""All SQL on sweep jobs and the hot wallet row."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import DepositAddress, HotWallet, ScannerState, Sweep
from paywarden.models.sweeps import S_ACTIVE, S_DONE, S_FAILED, S_WAITING, UNFINISHED


async def unfinished_for_address(session: AsyncSession, address: str) -> Sweep | None:
    return await session.scalar(select(Sweep).where(Sweep.active_address == address))


async def unfinished_addresses(session: AsyncSession, addresses: Collection[str]) -> set[str]:
    """Which of `addresses` have an unfinished sweep (in batches: a pass may hold hundreds)."""
    found: set[str] = set()
    wanted = sorted(addresses)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(
            await session.scalars(
                select(Sweep.active_address).where(Sweep.active_address.in_(chunk))
            )
        )
    return found


async def latest_for_order(session: AsyncSession, order_id: uuid.UUID) -> Sweep | None:
    query = (
        select(Sweep)
        .where(Sweep.order_id == order_id)
        .order_by(Sweep.created_at.desc(), Sweep.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def latest_done_for_order(session: AsyncSession, order_id: uuid.UUID) -> Sweep | None:
    query = (
        select(Sweep)
        .where(Sweep.order_id == order_id, Sweep.status == S_DONE)
        .order_by(Sweep.finished_at.desc(), Sweep.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Lock due waiting/active jobs (SKIP LOCKED on PostgreSQL), give each a new lease and
    mark it active; (sweep id, lease) pairs. A job whose holder died is due again when its
    lease ends (next_run_at holds the lease's end while held)."""
    ids = (
        await session.scalars(
            select(Sweep.id)
            .where(Sweep.status.in_((S_WAITING, S_ACTIVE)), Sweep.next_run_at <= now)
            .order_by(Sweep.next_run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claims = []
    for sweep_id in ids:
        lease = uuid.uuid4()
        await session.execute(
            update(Sweep)
            .where(Sweep.id == sweep_id)
            .values(status=S_ACTIVE, lease=lease, next_run_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        claims.append((sweep_id, lease))
    return claims


async def held(session: AsyncSession, sweep_id: uuid.UUID, lease: uuid.UUID) -> Sweep | None:
    """The job, locked, if this lease still holds it."""
    return await session.scalar(
        select(Sweep)
        .where(Sweep.id == sweep_id, Sweep.lease == lease)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def derivation_index(session: AsyncSession, address_id: uuid.UUID) -> int:
    index = await session.scalar(
        select(DepositAddress.derivation_index).where(DepositAddress.id == address_id)
    )
    if index is None:  # pragma: no cover - orders reference existing addresses
        raise LookupError(f"deposit address {address_id} not found")
    return int(index)


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Sweep.status, func.count())
        .where(Sweep.status.in_(UNFINISHED))
        .group_by(Sweep.status)
    )
    counts = {S_WAITING: 0, S_ACTIVE: 0, S_FAILED: 0}
    counts.update({status: int(n) for status, n in rows.all()})
    return counts


async def sweeps(session: AsyncSession, **where: Any) -> Sequence[Sweep]:
    query = select(Sweep).filter_by(**where).order_by(Sweep.created_at)
    return (await session.scalars(query)).all()


async def hot_wallet(session: AsyncSession, *, lock: bool = False) -> HotWallet | None:
    """The hot wallet most recently registered by a worker."""
    query = select(HotWallet).order_by(HotWallet.registered_at.desc()).limit(1)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def scanner_state(session: AsyncSession, key: str) -> ScannerState | None:
    """The chain scanner's cursor, read here so the wallet page needs nothing of chain/ (which
    imports the orders, which import the sweeps)."""
    return await session.scalar(select(ScannerState).where(ScannerState.key == key))
