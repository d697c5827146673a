"""Wallet top-ups in USDT: each is an order of the gateway's internal Cards merchant.

When the order is confirmed the client's USD wallet is credited in the same database
transaction; `order_id` is unique and the ledger transaction's idempotency key names the order,
so a replayed confirmation credits once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PENDING = "pending"
CREDITED = "credited"
EXPIRED = "expired"
STATUSES = (PENDING, CREDITED, EXPIRED)


class Topup(Base):
    __tablename__ = "topups"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'credited', 'expired')", name="status"),
        CheckConstraint("amount_usdt > 0", name="amount_positive"),
        Index("ix_topups_client_created", "client_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), unique=True)
    amount_usdt: Mapped[int] = mapped_column(BigInteger)  # micro-USDT asked for
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    received_usdt: Mapped[int | None] = mapped_column(BigInteger)  # what the order received
    gross_cents: Mapped[int | None] = mapped_column(BigInteger)  # USD before the fee
    fee_cents: Mapped[int | None] = mapped_column(BigInteger)  # the plan's top-up fee
    credited_cents: Mapped[int | None] = mapped_column(BigInteger)  # net, to the USD wallet
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    credited_at: Mapped[datetime | None]
