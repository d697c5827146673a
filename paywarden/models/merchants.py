"""Merchants of the gateway and their API keys (only a hash and a display prefix are kept)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_prefix: Mapped[str] = mapped_column(String(12))
    # The HMAC key of the merchant's webhooks, so it must be readable: a Fernet token under the
    # application key set (kit/crypto), not a hash.
    webhook_secret: Mapped[str] = mapped_column(Text)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The Cards product's own merchant (its orders are wallet top-ups): created at start, not
    # editable from the merchants API.
    is_internal: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
