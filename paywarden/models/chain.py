"""The chain scanner's records: USDT transfers to our deposit addresses, and its cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

SEEN = "seen"  # in a block that may still be replaced
FINAL = "final"  # at or below the solidified block
DROPPED = "dropped"  # its block was replaced and the transfer is not on the chain any more
TRANSFER_STATUSES = (SEEN, FINAL, DROPPED)


class ChainTransfer(Base):
    """A USDT Transfer event to one of our deposit addresses, stored once per (tx, event)."""

    __tablename__ = "chain_transfers"
    __table_args__ = (
        UniqueConstraint("tx_hash", "event_index", name="uq_chain_transfers_tx_event"),
        CheckConstraint("status IN ('seen', 'final', 'dropped')", name="status"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        Index("ix_chain_transfers_status_block", "status", "block_number"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tx_hash: Mapped[str] = mapped_column(String(64))
    event_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[datetime]
    from_address: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-USDT
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # The deposit address it paid (no FK, as orders' address rows are kept apart).
    deposit_address_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16), default=SEEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finalized_at: Mapped[datetime | None]

    @property
    def key(self) -> tuple[str, int]:
        return (self.tx_hash, self.event_index)


class ScannerState(Base):
    """One row per network and token contract: how far the scanner has read the chain.

    `last_block` is the cursor (every block up to it is scanned); `last_block_id` its block id
    while it is above the solidified height, so the next pass can tell a reorg happened.
    """

    __tablename__ = "scanner_state"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # "<network>:<contract>"
    last_block: Mapped[int] = mapped_column(BigInteger)
    last_block_id: Mapped[str | None] = mapped_column(String(64))
    solidified_block: Mapped[int] = mapped_column(BigInteger)
    head_block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
