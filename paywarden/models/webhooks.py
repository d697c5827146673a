"""Outbound merchant webhooks: the events (outbox), their deliveries, and each HTTP attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

ORDER_CONFIRMED = "order.confirmed"
ORDER_EXPIRED = "order.expired"

D_PENDING = "pending"
D_DELIVERING = "delivering"
D_DELIVERED = "delivered"
D_FAILED = "failed"
DELIVERY_STATUSES = (D_PENDING, D_DELIVERING, D_DELIVERED, D_FAILED)


class WebhookEvent(Base):
    """One event told to a merchant; its id is the Standard Webhooks `webhook-id`."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_order_created", "order_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the body sent, as JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """Sending one event to one URL, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivering', 'delivered', 'failed')", name="status"
        ),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default=D_PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # When pending: due time. When delivering: when it was claimed (stale after a while).
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    # A retry-webhook override URL: used for this delivery only, never stored on the order.
    one_shot: Mapped[bool] = mapped_column(default=False)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_attempt", "delivery_id", "attempt"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)  # the first 1 KB of the answer
