"""Sweeps: moving a deposit address's USDT to the cold wallet, one resumable job per run; and
the hot wallet that pays for them (its address and its last known balance, shared by every
process through the database)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

# Job states: `waiting` (not started, or a balance below SWEEP_MIN_AMOUNT waiting to grow),
# `active` (started: the step says where it is), `failed` (an operator's retry resumes it at
# its step), `done` (the settlement is recorded).
S_WAITING, S_ACTIVE, S_FAILED, S_DONE = "waiting", "active", "failed", "done"
SWEEP_STATUSES = (S_WAITING, S_ACTIVE, S_FAILED, S_DONE)
UNFINISHED = (S_WAITING, S_ACTIVE, S_FAILED)

# Steps in order; each is persisted before the next begins. `burn` skips delegate/reclaim,
# `delegate` funds only what bandwidth or activation needs (often nothing).
CHECK = "check"  # read the USDT balance, estimate energy and prices, plan the funding
FUND = "fund"  # hot wallet -> deposit address: TRX (signed tx stored, then broadcast)
FUND_WAIT = "fund_wait"  # its solidified receipt
DELEGATE = "delegate"  # hot wallet delegates energy to the deposit address
DELEGATE_WAIT = "delegate_wait"
TRANSFER = "transfer"  # deposit address -> cold wallet: its whole USDT balance
TRANSFER_WAIT = "transfer_wait"
RECLAIM = "reclaim"  # the hot wallet takes its delegated energy back
RECLAIM_WAIT = "reclaim_wait"
SETTLE = "settle"  # record the settlement, let the address go back to the pool
STEPS = (
    CHECK,
    FUND,
    FUND_WAIT,
    DELEGATE,
    DELEGATE_WAIT,
    TRANSFER,
    TRANSFER_WAIT,
    RECLAIM,
    RECLAIM_WAIT,
    SETTLE,
)


class Sweep(Base):
    __tablename__ = "sweeps"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'active', 'failed', 'done')", name="status"),
        CheckConstraint("mode IS NULL OR mode IN ('burn', 'delegate')", name="mode"),
        Index("ix_sweeps_status_next_run", "status", "next_run_at"),
        Index("ix_sweeps_order_created", "order_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    address_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deposit_addresses.id"))
    address: Mapped[str] = mapped_column(String(64))
    # The address while the job is unfinished, NULL once done: unique, so one sweep at a time
    # per address on both databases (NULLs never collide).
    active_address: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=S_WAITING)
    step: Mapped[str] = mapped_column(String(16), default=CHECK)
    mode: Mapped[str | None] = mapped_column(String(16))  # chosen when the job starts
    # The plan made at `check` (integers: micro-USDT, energy units, sun).
    amount: Mapped[int | None] = mapped_column(BigInteger)
    energy: Mapped[int | None] = mapped_column(BigInteger)
    fund_sun: Mapped[int | None] = mapped_column(BigInteger)
    delegate_sun: Mapped[int | None] = mapped_column(BigInteger)  # to delegate at `delegate`
    fee_limit: Mapped[int | None] = mapped_column(BigInteger)
    # Each transaction's id and signed JSON, stored before it is broadcast.
    fund_txid: Mapped[str | None] = mapped_column(String(64))
    fund_tx: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    delegate_txid: Mapped[str | None] = mapped_column(String(64))
    delegate_tx: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    transfer_txid: Mapped[str | None] = mapped_column(String(64))
    transfer_tx: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reclaim_txid: Mapped[str | None] = mapped_column(String(64))
    reclaim_tx: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Running totals over the job's solidified transactions (sun).
    funded_sun: Mapped[int] = mapped_column(BigInteger, default=0)  # TRX sent to the address
    delegated_sun: Mapped[int] = mapped_column(BigInteger, default=0)  # delegated, not reclaimed
    fee_sun: Mapped[int] = mapped_column(BigInteger, default=0)  # TRX burned in fees
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # transient errors in this step
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_step: Mapped[str | None] = mapped_column(String(16))
    # When due (waiting/active); while a worker holds the job, its lease's end.
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease: Mapped[uuid.UUID | None]  # the holding worker's claim; every write checks it
    # {tx_hash, amount, fee_trx, funding_tx_hash, mode, swept_at} once done.
    settlement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class HotWallet(Base):
    """The hot wallet a sweeper runs with (registered by the worker: only its address, never
    its key) and its TRX balance as last read, a few seconds' cache for every process."""

    __tablename__ = "hot_wallets"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance_sun: Mapped[int | None] = mapped_column(BigInteger)
    is_low: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None]
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
