"""Sweep rules the rest of the gateway calls: write the job with the confirmation, retry a
failed one, show settlements and the queue, keep the hot wallet's balance and its alert.

The job itself runs in `tasks.py` (the worker); nothing here touches a key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.models import HotWallet, Incident, Order, OrderEvent, Sweep
from paywarden.models.sweeps import S_FAILED, S_WAITING
from paywarden.sweeps import repository as repo

log = get_logger(__name__)

HOT_WALLET_LOW = "hot_wallet_low"
# How long a read of the hot wallet's balance serves every process before it is read again.
HOT_WALLET_CACHE = timedelta(seconds=5)
SUN_PER_TRX = 1_000_000


async def enqueue(db: AsyncSession, order: Order) -> Sweep | None:
    """Write the sweep job for an order that now holds final funds (in the caller's
    transaction: the outbox). None when the address already has an unfinished sweep, which
    will take its whole balance anyway."""
    if await repo.unfinished_for_address(db, order.address) is not None:
        return None
    sweep = _new_sweep(order)
    db.add(sweep)
    return sweep


def _new_sweep(order: Order) -> Sweep:
    return Sweep(
        id=uuid.uuid4(),
        order_id=order.id,
        address_id=order.address_id,
        address=order.address,
        active_address=order.address,
        status=S_WAITING,
        funded_sun=0,
        delegated_sun=0,
        fee_sun=0,
        attempts=0,
        next_run_at=utcnow(),
    )


async def enqueue_many(db: AsyncSession, orders: Sequence[Order]) -> list[Sweep]:
    """`enqueue` for a batch of orders: one query for the addresses' unfinished sweeps, and one
    new sweep per address that has none (two orders of one address in the batch: one sweep)."""
    busy = await repo.unfinished_addresses(db, {o.address for o in orders})
    sweeps = []
    for order in orders:
        if order.address in busy:
            continue
        busy.add(order.address)
        sweeps.append(_new_sweep(order))
    db.add_all(sweeps)
    return sweeps


async def failed_for_order(db: AsyncSession, order_id: uuid.UUID) -> Sweep | None:
    sweep = await repo.latest_for_order(db, order_id)
    return sweep if sweep is not None and sweep.status == S_FAILED else None


async def retry(db: AsyncSession, order: Order, sweep: Sweep, actor: Actor) -> None:
    """Put a failed sweep back in the queue at the step it failed in (audited)."""
    details = {"sweep_id": str(sweep.id), "step": sweep.step, "failed_step": sweep.failed_step}
    sweep.status = S_WAITING
    sweep.attempts = 0
    sweep.lease = None
    sweep.next_run_at = utcnow()
    db.add(
        OrderEvent(
            order_id=order.id,
            event_type="sweep_retry_requested",
            from_status=order.status,
            to_status=order.status,
            payload=details,
        )
    )
    audit.record(
        db, actor, "order.retry_sweep", target_type="order", target_id=order.id, details=details
    )


async def settlement(db: AsyncSession, order_id: uuid.UUID) -> dict[str, Any] | None:
    """The order's settlement {tx_hash, amount, fee_trx, funding_tx_hash, mode, swept_at}."""
    sweep = await repo.latest_done_for_order(db, order_id)
    return dict(sweep.settlement) if sweep is not None and sweep.settlement else None


async def queue(db: AsyncSession) -> dict[str, int]:
    """Sweep jobs waiting (not started, or below SWEEP_MIN_AMOUNT), active and failed."""
    return await repo.queue_counts(db)


# --- the hot wallet ---


async def register_hot_wallet(db: AsyncSession, address: str) -> None:
    """A worker with HOT_WALLET_KEY says which address it pays from (never the key)."""
    row = await db.get(HotWallet, address)
    if row is None:
        db.add(HotWallet(address=address, is_low=False, registered_at=utcnow()))
    else:
        row.registered_at = utcnow()


@dataclass(frozen=True)
class HotWalletStatus:
    address: str
    balance_sun: int | None
    is_low: bool


def _status(row: HotWallet) -> HotWalletStatus:
    return HotWalletStatus(row.address, row.balance_sun, row.is_low)


def is_stale(row: HotWallet) -> bool:
    return row.checked_at is None or utcnow() - row.checked_at >= HOT_WALLET_CACHE


async def record_balance(
    db: AsyncSession, address: str, balance_sun: int, alert_trx: int
) -> HotWalletStatus | None:
    """Store a fresh balance read; falling under HOT_WALLET_ALERT_TRX raises one
    `hot_wallet_low` incident per crossing (the row remembers which side it is on)."""
    row = await db.get(HotWallet, address, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    low = balance_sun < alert_trx * SUN_PER_TRX
    if low and not row.is_low:
        db.add(
            Incident(
                event_type=HOT_WALLET_LOW,
                payload={
                    "address": address,
                    "trx_balance": f"{balance_sun // SUN_PER_TRX}.{balance_sun % SUN_PER_TRX:06d}",
                    "alert_trx": alert_trx,
                },
            )
        )
        log.warning("hot_wallet_low", address=address, balance_sun=balance_sun)
    row.is_low = low
    row.balance_sun = balance_sun
    row.checked_at = utcnow()
    return _status(row)


async def hot_wallet(db: AsyncSession, read_balance: Any, alert_trx: int) -> HotWalletStatus | None:
    """The registered hot wallet with its balance, read again if the cached one is older than
    HOT_WALLET_CACHE; `read_balance(address)` is an async TronGrid read (sun). A failed read
    shows the last known balance."""
    row = await repo.hot_wallet(db)
    if row is None:
        return None
    if not is_stale(row):
        return _status(row)
    try:
        balance = int(await read_balance(row.address))
    except Exception as exc:  # the page must answer when TronGrid does not
        log.warning("hot_wallet_balance_unavailable", error=str(exc)[:200])
        return _status(row)
    return await record_balance(db, row.address, balance, alert_trx)
