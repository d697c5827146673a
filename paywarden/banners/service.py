"""Banner rules: what an image may be, the advice given on it, and every change audited."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.banners import images
from paywarden.banners import repository as repo
from paywarden.banners.errors import BannerNotFound, EmptyUpdate
from paywarden.models import Banner

# The seed's guidance: 1200 x 375 px (16:5, the client placeholder's shape), roughly < 400 KB.
LIGHT_BYTES = 400 * 1024
RATIO_W, RATIO_H = 16, 5
RATIO_TOLERANCE_PERCENT = 5
FIELDS = ("page", "target_url", "active")


@dataclass(frozen=True)
class Advice:
    """A warning on an accepted image: the banner is saved, the operator may want another."""

    code: str
    message: str


@dataclass(frozen=True)
class Saved:
    banner: Banner
    warnings: list[Advice]


@dataclass(frozen=True)
class Image:
    data: bytes
    content_type: str
    sha256: str


def advice(size_bytes: int, width: int, height: int) -> list[Advice]:
    found = []
    if size_bytes > LIGHT_BYTES:
        found.append(
            Advice(
                "IMAGE_HEAVY",
                f"The image is {size_bytes / 1024:.0f} KB: keep it roughly under "
                f"{LIGHT_BYTES // 1024} KB for a fast load",
            )
        )
    # |ratio / (16/5) - 1| > 5%, in integers: 100 * |5w - 16h| > 5 * 16h
    target = RATIO_W * height
    if 100 * abs(RATIO_H * width - target) > RATIO_TOLERANCE_PERCENT * target:
        found.append(
            Advice(
                "ASPECT_RATIO",
                f"The image is {width} x {height} px, off the 16:5 shape of the client's "
                "placeholder (recommended 1200 x 375 px): it will show with empty space or small",
            )
        )
    return found


def _image_columns(data: bytes) -> dict[str, Any]:
    info = images.inspect(data)
    return {
        "image": data,
        "content_type": info.content_type,
        "image_sha256": hashlib.sha256(data).hexdigest(),
        "width": info.width,
        "height": info.height,
        "size_bytes": len(data),
    }


def _saved(banner: Banner) -> Saved:
    return Saved(banner, advice(banner.size_bytes, banner.width, banner.height))


async def _get(db: AsyncSession, banner_id: uuid.UUID) -> Banner:
    banner = await repo.get(db, banner_id)
    if banner is None:
        raise BannerNotFound()
    return banner


async def list_all(db: AsyncSession, page: str | None = None) -> Sequence[Banner]:
    return await repo.listed(db, page=page)


async def list_active(db: AsyncSession, page: str | None = None) -> Sequence[Banner]:
    return await repo.listed(db, page=page, active_only=True)


async def create(
    db: AsyncSession, *, page: str, target_url: str, active: bool, image: bytes, actor: Actor
) -> Saved:
    columns = _image_columns(image)  # refused (400) before anything is written
    banner = await repo.add(
        db, Banner(page=page, target_url=target_url, active=active, clicks=0, **columns)
    )
    audit.record(
        db,
        actor,
        "banner.create",
        target_type="banner",
        target_id=banner.id,
        details={
            "page": page,
            "target_url": target_url,
            "active": active,
            "content_type": banner.content_type,
            "image_sha256": banner.image_sha256,
            "size_bytes": banner.size_bytes,
        },
    )
    return _saved(banner)


async def update(
    db: AsyncSession,
    banner_id: uuid.UUID,
    changes: dict[str, Any],
    image: bytes | None,
    actor: Actor,
) -> Saved:
    """Set the given fields; a new image replaces the old one (and so gets a new URL)."""
    if not changes and image is None:
        raise EmptyUpdate()
    columns = _image_columns(image) if image is not None else {}
    banner = await _get(db, banner_id)
    details: dict[str, Any] = {}
    for field, value in changes.items():
        if getattr(banner, field) != value:
            details[field] = {"from": getattr(banner, field), "to": value}
            setattr(banner, field, value)
    if columns and columns["image_sha256"] != banner.image_sha256:
        details["image_sha256"] = {"from": banner.image_sha256, "to": columns["image_sha256"]}
        details["size_bytes"] = {"from": banner.size_bytes, "to": columns["size_bytes"]}
        for field, value in columns.items():
            setattr(banner, field, value)
    await db.flush()
    audit.record(
        db, actor, "banner.update", target_type="banner", target_id=banner.id, details=details
    )
    return _saved(banner)


async def delete(db: AsyncSession, banner_id: uuid.UUID, actor: Actor) -> None:
    banner = await _get(db, banner_id)
    details = {"page": banner.page, "target_url": banner.target_url, "clicks": banner.clicks}
    if not await repo.remove(db, banner_id):
        raise BannerNotFound()  # removed meanwhile by another request
    audit.record(
        db, actor, "banner.delete", target_type="banner", target_id=banner_id, details=details
    )


async def click(db: AsyncSession, banner_id: uuid.UUID) -> str:
    """Count a click on an active banner; the stored target to send the client to."""
    target = await repo.count_click(db, banner_id)
    if target is None:
        raise BannerNotFound()
    return target


async def image(db: AsyncSession, banner_id: uuid.UUID) -> Image:
    row = await repo.image(db, banner_id)
    if row is None:
        raise BannerNotFound()
    data, content_type, sha256 = row
    return Image(data=data, content_type=content_type, sha256=sha256)
