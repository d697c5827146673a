"""The bot's outbox: what a client is told in Telegram (a 3-D Secure code, a decline, a top-up
credited, ...), each attempt to tell it, and the bot process's heartbeat.

A notification row is written in the transaction of the event it tells, with a unique
`event_key` (`<kind>:<the event's id>`): an event handled twice (an issuer webhook sent again)
finds its row there and writes nothing. The bot's sender claims due rows, sends, and records
each attempt; the row holds what to say (`params`), never a secret: a 3-D Secure code is read
from its own sealed row at send time.
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
)
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

# What a notification tells.
CODE_3DS = "code_3ds"
CARD_APPROVED = "card_approved"
CARD_DECLINED = "card_declined"
CARD_REFUND = "card_refund"
TOPUP_CREDITED = "topup_credited"
SUBSCRIPTION_RENEWED = "subscription_renewed"
SUBSCRIPTION_PAST_DUE = "subscription_past_due"
LOW_BALANCE = "low_balance"
KINDS = (
    CODE_3DS,
    CARD_APPROVED,
    CARD_DECLINED,
    CARD_REFUND,
    TOPUP_CREDITED,
    SUBSCRIPTION_RENEWED,
    SUBSCRIPTION_PAST_DUE,
    LOW_BALANCE,
)

# Where it stands.
PENDING = "pending"  # due at next_attempt_at
SENDING = "sending"  # claimed by a sender until next_attempt_at (then due again: a kill)
SENT = "sent"
FAILED = "failed"  # given up (attempts exhausted, or Telegram refused the message itself)
BLOCKED = "blocked"  # the client blocked the bot (403): not retried
SKIPPED = "skipped"  # nothing to send any more (a 3-D Secure code expired before it went out)
STATUSES = (PENDING, SENDING, SENT, FAILED, BLOCKED, SKIPPED)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="status"),
        CheckConstraint(f"kind IN ({_in(KINDS)})", name="kind"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        Index("ix_notifications_client_created", "client_id", "created_at"),
        Index("ix_notifications_delete_at", "delete_at"),
        Index("ix_notifications_sent_at", "sent_at"),  # the dashboard's "sent in 24 h"
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the client's Telegram user id
    kind: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(160), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the message says; no secret
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # PENDING: when due. SENDING: when the claim lapses (a sender killed mid-send).
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # Telegram's, once sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # A message that must not outlive what it says (a 3-D Secure code): deleted from the chat
    # at delete_at; deleted_at once done (or found gone).
    delete_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class NotificationAttempt(Base):
    """One call to the Bot API for a notification: a send, or the deletion of its message."""

    __tablename__ = "notification_attempts"
    __table_args__ = (
        Index("ix_notification_attempts_notification", "notification_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(16))  # send | delete
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    # sent | deleted | retry_after | server_error | network | blocked | rejected
    outcome: Mapped[str] = mapped_column(String(16))
    retry_after: Mapped[int | None] = mapped_column(Integer)  # seconds Telegram asked for
    error: Mapped[str | None] = mapped_column(Text)


class BotStatus(Base):
    """The bot process's heartbeat (one row per bot): the console's health block reads it."""

    __tablename__ = "bot_status"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the token's hash prefix
    username: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # polling | webhook
    holder: Mapped[str] = mapped_column(String(255))  # host:pid of the process holding the lock
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    last_update_at: Mapped[datetime | None]  # the last update (a client's message) handled
    last_error: Mapped[str | None] = mapped_column(Text)
