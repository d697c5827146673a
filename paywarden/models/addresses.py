"""Deposit addresses, derived watch-only from the xpub, each serving one open order at a time."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

FREE, ALLOCATED = "free", "allocated"


class DepositAddress(Base):
    __tablename__ = "deposit_addresses"
    __table_args__ = (
        CheckConstraint("status IN ('free', 'allocated')", name="status"),
        UniqueConstraint("xpub_id", "derivation_index", name="uq_deposit_addresses_xpub_index"),
        # Allocation takes the free address of the current xpub that has been available longest,
        # lowest index first: this index serves that ORDER BY without a sort.
        Index(
            "ix_deposit_addresses_allocation",
            "xpub_id",
            "status",
            "available_at",
            "derivation_index",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Which xpub derived it: after an XPUB change, old addresses are never handed out again.
    xpub_id: Mapped[str] = mapped_column(String(16))
    derivation_index: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=FREE)
    # The open order holding it; no FK on purpose: orders point here, not the other way round.
    order_id: Mapped[uuid.UUID | None]
    # A released address cools down before reuse, so a late payment can't land on a new order.
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    allocated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
