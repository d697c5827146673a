"""Virtual cards issued through a card issuer, their transactions, the issuer's inbound events
(the inbox), 3-D Secure codes, and the B2B profile pool.

Amounts are integers in minor units (cents): a card transaction's `amount` is in the card's
currency (the billing amount), `merchant_amount` in the currency the purchase was made in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

# Card states (normalized across issuers).
CARD_ACTIVE = "active"
CARD_FROZEN = "frozen"
CARD_CLOSED = "closed"
CARD_STATUSES = (CARD_ACTIVE, CARD_FROZEN, CARD_CLOSED)

# Card transaction states and decline reasons (normalized; the issuer's raw code kept beside).
TX_STATUSES = ("pending", "approved", "declined", "settled", "reversed", "refunded", "expired")
DECLINE_REASONS = (
    "insufficient_funds",
    "do_not_honor",
    "3ds_failed",
    "card_inactive",
    "spending_limit",
    "suspected_fraud",
    "other",
)
# Inbox events.
EVENT_RECEIVED = "received"
EVENT_PROCESSED = "processed"
EVENT_FAILED = "failed"
EVENT_STATUSES = (EVENT_RECEIVED, EVENT_PROCESSED, EVENT_FAILED)
# 3-D Secure codes.
CODE_STATUSES = ("pending", "used", "expired", "declined")
# B2B profiles.
PROFILE_STATUSES = ("available", "assigned", "disabled")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("issuer", "issuer_card_id", name="uq_cards_issuer_card"),
        CheckConstraint(f"status IN ({_in(CARD_STATUSES)})", name="status"),
        CheckConstraint("currency IN ('EUR', 'USD')", name="currency"),
        CheckConstraint("monthly_limit > 0", name="monthly_limit_positive"),
        CheckConstraint("spent_this_month >= 0", name="spent_non_negative"),
        Index("ix_cards_client_status", "client_id", "status"),
        Index("ix_cards_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    issuer: Mapped[str] = mapped_column(String(32))  # the adapter's name, e.g. "sandbox"
    issuer_card_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    monthly_limit: Mapped[int] = mapped_column(BigInteger)  # cents
    # Month-to-date spend (approved holds + settled - reversed), kept under the card's row lock;
    # `spend_month` (YYYY-MM, UTC) says which month it counts: another month starts at zero.
    spend_month: Mapped[str | None] = mapped_column(String(7))
    spent_this_month: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=CARD_ACTIVE)
    last4: Mapped[str | None] = mapped_column(String(4))
    label: Mapped[str | None] = mapped_column(String(64))
    issue_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # EUR cents charged at issue
    issue_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transactions.id")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class CardTransaction(Base):
    """One purchase (or a refund / settlement without authorization) on a card."""

    __tablename__ = "card_transactions"
    __table_args__ = (
        UniqueConstraint("issuer", "issuer_transaction_id", name="uq_card_transactions_issuer_tx"),
        CheckConstraint(f"status IN ({_in(TX_STATUSES)})", name="status"),
        CheckConstraint(
            f"decline_reason IS NULL OR decline_reason IN ({_in(DECLINE_REASONS)})",
            name="decline_reason",
        ),
        CheckConstraint("amount >= 0 AND merchant_amount >= 0", name="amounts"),
        Index("ix_card_transactions_card_created", "card_id", "created_at"),
        Index("ix_card_transactions_client_created", "client_id", "created_at"),
        # created_at first, then every column the dashboard's breakdown reads (0015).
        Index(
            "ix_card_transactions_created_breakdown",
            "created_at",
            "status",
            "currency",
            "amount",
            "settled_amount",
            "merchant",
            "mcc",
            "decline_reason",
            "client_id",
        ),
        Index("ix_card_transactions_status", "status"),
        Index("ix_card_transactions_merchant", "merchant"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    issuer: Mapped[str] = mapped_column(String(32))
    issuer_transaction_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    raw_code: Mapped[str | None] = mapped_column(String(64))  # the issuer's own code
    amount: Mapped[int] = mapped_column(BigInteger)  # card currency cents (billing), fee included
    currency: Mapped[str] = mapped_column(String(3))
    fx_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # part of `amount`
    merchant_amount: Mapped[int] = mapped_column(BigInteger)
    merchant_currency: Mapped[str] = mapped_column(String(3))
    merchant: Mapped[str | None] = mapped_column(String(255))
    mcc: Mapped[str | None] = mapped_column(String(4))
    country: Mapped[str | None] = mapped_column(String(2))
    three_ds: Mapped[bool | None]
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_holds.id"))
    settled_amount: Mapped[int | None] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    settled_at: Mapped[datetime | None]


class IssuerEvent(Base):
    """The inbox: an issuer webhook as received (raw body kept), handled once."""

    __tablename__ = "issuer_events"
    __table_args__ = (
        UniqueConstraint("issuer", "event_id", name="uq_issuer_events_issuer_event"),
        CheckConstraint(f"status IN ({_in(EVENT_STATUSES)})", name="status"),
        Index("ix_issuer_events_status_received", "status", "received_at"),
        # Covers the last day's counts by status and lag percentiles (the overview's health).
        Index("ix_issuer_events_received_status_lag", "received_at", "status", "lag_ms"),
        Index("ix_issuer_events_code_reference", "issuer", "code_reference"),
        Index("ix_issuer_events_code_expires_at", "code_expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    issuer: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    lag_ms: Mapped[int | None] = mapped_column(Integer)  # received_at - occurred_at
    # A 3-D Secure code event's body and payload hold the code encrypted while it is live, and
    # are redacted once it is spent (card_transactions/inbox.py says the rule).
    raw_body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set while the row holds a live code: the purchase it is for (codes_3ds.issuer_reference)
    # and when it lapses; both cleared with the code.
    code_reference: Mapped[str | None] = mapped_column(String(128))
    code_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=EVENT_RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]


class Code3ds(Base):
    """A 3-D Secure one-time code the issuer sent for a purchase (the seed's `codes_3ds`)."""

    __tablename__ = "codes_3ds"
    __table_args__ = (
        UniqueConstraint("issuer", "issuer_reference", name="uq_codes_3ds_issuer_reference"),
        CheckConstraint(f"status IN ({_in(CODE_STATUSES)})", name="status"),
        Index("ix_codes_3ds_client_created", "client_id", "created_at"),
        Index("ix_codes_3ds_status_expires", "status", "expires_at"),
        Index("ix_codes_3ds_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cards.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    issuer: Mapped[str] = mapped_column(String(32))
    issuer_reference: Mapped[str] = mapped_column(String(128))
    # Shown to the client; never logged. A Fernet token while pending, NULL once the code is
    # used, declined or expired (a spent code is kept nowhere).
    code: Mapped[str | None] = mapped_column(Text)
    merchant: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class B2bGroup(Base):
    __tablename__ = "b2b_groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class B2bProfile(Base):
    """An issuer account profile of the B2B pool; its secret stored encrypted."""

    __tablename__ = "b2b_profiles"
    __table_args__ = (
        UniqueConstraint("issuer", "external_id", name="uq_b2b_profiles_issuer_external"),
        CheckConstraint(f"status IN ({_in(PROFILE_STATUSES)})", name="status"),
        Index("ix_b2b_profiles_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    issuer: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(String(255))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="available")
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("b2b_groups.id"))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id"))
    validated_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class B2bInvite(Base):
    """An invite handing a profile of a group to the client who redeems it (code hashed)."""

    __tablename__ = "b2b_invites"

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("b2b_groups.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_prefix: Mapped[str] = mapped_column(String(12))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
