"""A client's subscription to its plan (`clients.plan_id`): the billing state of the monthly fee.

One row per client. `pending` until the first fee is paid (active at once when it is zero),
`active` while the current period is paid, `past_due` when a renewal found no funds. A period's
fee is one ledger transaction whose idempotency key names the client and the period's start, so
a renewal run twice charges once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PENDING = "pending"
ACTIVE = "active"
PAST_DUE = "past_due"
STATUSES = (PENDING, ACTIVE, PAST_DUE)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'past_due')", name="status"),
        CheckConstraint("fee_charged >= 0", name="fee_charged"),
        # The renewal job's scan: active subscriptions whose period has ended.
        Index("ix_subscriptions_status_period_end", "status", "current_period_end"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), unique=True)
    # The plan the current period was paid for (the client's plan may since have changed).
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    current_period_start: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    fee_charged: Mapped[int] = mapped_column(BigInteger, default=0)  # EUR cents, this period
    fee_currency: Mapped[str | None] = mapped_column(String(3))  # the wallet it came from
    last_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transactions.id")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
