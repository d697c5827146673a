"""Clients of the cards product: end users from the Telegram bot (`tg_<id>`) or web sign-ups."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

ACTIVE = "active"
BANNED = "banned"
STATUSES = (ACTIVE, BANNED)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'banned')", name="status"),
        CheckConstraint(
            "max_active_cards IS NULL OR max_active_cards >= 0", name="max_active_cards"
        ),
        Index("ix_clients_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # `tg_<telegram user id>` for bot users, `web_<id>` for web sign-ups.
    external_user_id: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(255), index=True)
    language: Mapped[str | None] = mapped_column(String(16))  # Telegram's, refreshed on sight
    # The client app's language the client chose (en/ru); None: follow `language`.
    app_language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    can_create_cards: Mapped[bool] = mapped_column(default=True)
    max_active_cards: Mapped[int | None] = mapped_column(Integer)  # an override of the plan's cap
    # Its foreign key comes with the plans table (migration 0007).
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_since: Mapped[datetime | None]
    tariff_notes: Mapped[str | None] = mapped_column(Text)
    internal_note: Mapped[str | None] = mapped_column(Text)
    support_owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime | None]
    # The bot: tell the client when a wallet falls below this (minor units, EUR or USD alike);
    # None: never. Set when the client blocked the bot (a 403): nothing more is sent until it
    # talks to the bot again.
    low_balance_threshold: Mapped[int | None] = mapped_column(BigInteger)
    bot_blocked_at: Mapped[datetime | None]


class ClientSession(Base):
    """One Mini App sign-in: Telegram init data exchanged once (`POST /api/botcartd/session`)
    for the `client_token` cookie, which names this row so logout or a ban can end it."""

    __tablename__ = "client_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
