"""All SQL on banners."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Banner


async def get(session: AsyncSession, banner_id: uuid.UUID) -> Banner | None:
    return await session.get(Banner, banner_id)


async def listed(
    session: AsyncSession, *, page: str | None = None, active_only: bool = False
) -> Sequence[Banner]:
    """Newest first; the image bytes stay in the database (the column is deferred)."""
    query = select(Banner).order_by(Banner.created_at.desc(), Banner.id)
    if page is not None:
        query = query.where(Banner.page == page)
    if active_only:
        query = query.where(Banner.active.is_(True))
    return (await session.scalars(query)).all()


async def add(session: AsyncSession, banner: Banner) -> Banner:
    session.add(banner)
    await session.flush()
    return banner


async def remove(session: AsyncSession, banner_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Banner).where(Banner.id == banner_id).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_click(session: AsyncSession, banner_id: uuid.UUID) -> str | None:
    """Add one click to an active banner in a single UPDATE (concurrent clicks never overwrite
    each other); its target URL, or None when there is no such active banner."""
    statement = (
        update(Banner)
        .where(Banner.id == banner_id, Banner.active.is_(True))
        # A click is not an edit: keep updated_at (the column's onupdate would bump it).
        .values(clicks=Banner.clicks + 1, updated_at=Banner.updated_at)
        .returning(Banner.target_url)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def image(session: AsyncSession, banner_id: uuid.UUID) -> Row[tuple[bytes, str, str]] | None:
    """The bytes, content type and SHA-256 alone, without loading the row."""
    query = select(Banner.image, Banner.content_type, Banner.image_sha256).where(
        Banner.id == banner_id
    )
    return (await session.execute(query)).one_or_none()
