"""Web sign-ups of the cards product: an email and password login for a `web_<id>` client."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PENDING = "pending"
ACTIVE = "active"
DISABLED = "disabled"
STATUSES = (PENDING, ACTIVE, DISABLED)


class WebUser(Base):
    __tablename__ = "web_users"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'disabled')", name="status"),
        # Stored lowercased, so unique is unique case-insensitively.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("ix_web_users_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    email_verified_at: Mapped[datetime | None]
    # The `tg_…` client this user is linked to once they join the bot.
    external_user_id: Mapped[str | None] = mapped_column(String(80), index=True)
    # The `web_<id>` client created at verification; kept when the login is deleted.
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class WebUserSession(Base):
    """One sign-in of a web user; the `client_token` cookie names it, logout revokes it."""

    __tablename__ = "web_user_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    web_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("web_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
