"""Partner ads shown on the client app's tabs, with their image kept in the database (so that
every replica serves it) and a click counter."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PAGES = ("main", "card", "3ds", "tx", "profile")
CONTENT_TYPES = ("image/webp", "image/jpeg")


class Banner(Base):
    __tablename__ = "banners"
    __table_args__ = (
        CheckConstraint("page IN ('main', 'card', '3ds', 'tx', 'profile')", name="page"),
        CheckConstraint("content_type IN ('image/webp', 'image/jpeg')", name="content_type"),
        CheckConstraint("clicks >= 0", name="clicks"),
        Index("ix_banners_page_active", "page", "active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    page: Mapped[str] = mapped_column(String(16))
    # Loaded only when served: lists never read the bytes.
    image: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    content_type: Mapped[str] = mapped_column(String(32))
    image_sha256: Mapped[str] = mapped_column(String(64))  # the ETag and the cache-busting key
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    target_url: Mapped[str] = mapped_column(String(2048))
    active: Mapped[bool] = mapped_column(default=True)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
