"""Orders (payments), their event history, and the daily rollup that stats read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PENDING = "pending"
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
COMPLETED = "completed"
CALLBACK_FAILED = "callback_failed"
EXPIRED = "expired"
STATUSES = (PENDING, CONFIRMING, CONFIRMED, COMPLETED, CALLBACK_FAILED, EXPIRED)
OPEN = (PENDING, CONFIRMING)
# Paid: the funds are final on chain, whatever became of the merchant's webhook.
PAID = (CONFIRMED, COMPLETED, CALLBACK_FAILED)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "external_id", name="uq_orders_merchant_external_id"),
        CheckConstraint(
            "status IN ('pending', 'confirming', 'confirmed', 'completed', 'callback_failed', "
            "'expired')",
            name="status",
        ),
        CheckConstraint("amount_expected > 0", name="amount_expected_positive"),
        CheckConstraint("amount_received >= 0", name="amount_received_non_negative"),
        Index("ix_orders_merchant_created", "merchant_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the canonical create request: the same external_id with the same body is a retry.
    request_hash: Mapped[str] = mapped_column(String(64))
    address_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deposit_addresses.id"))
    address: Mapped[str] = mapped_column(String(64), index=True)
    amount_expected: Mapped[int] = mapped_column(BigInteger)  # micro-USDT
    amount_received: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    tx_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The report-timezone day the order was created on: the key of its rollup row.
    created_day: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderEvent(Base):
    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_created", "order_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderDailyStats(Base):
    """Counts and sums per created day, kept in step with every order change (same transaction).

    Sharded so that concurrent creates don't queue on one hot row; readers sum the shards.
    """

    __tablename__ = "order_daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_count: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_received: Mapped[int] = mapped_column(BigInteger, default=0)  # micro-USDT of paid orders
