"""All SQL of the B2B profile pool."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.b2b.filters import ProfileFilter
from paywarden.kit import listing
from paywarden.models import B2bGroup, B2bInvite, B2bProfile

AVAILABLE = "available"
ASSIGNED = "assigned"
DISABLED = "disabled"


async def existing_external_ids(
    session: AsyncSession, issuer: str, external_ids: Iterable[str]
) -> set[str]:
    wanted = list(set(external_ids))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(B2bProfile.external_id).where(
            B2bProfile.issuer == issuer, B2bProfile.external_id.in_(wanted)
        )
    )
    return set(rows.all())


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def insert_profiles(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the profiles in one statement; a profile another upload saved meanwhile is
    skipped (the unique (issuer, external_id)). Returns the external ids inserted."""
    if not rows:
        return set()
    stmt = (
        _insert(session, B2bProfile)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["issuer", "external_id"])
        .returning(B2bProfile.external_id)
    )
    return set((await session.scalars(stmt)).all())


async def insert_group(session: AsyncSession, values: dict[str, Any]) -> bool:
    stmt = _insert(session, B2bGroup).values(values).on_conflict_do_nothing(index_elements=["name"])
    result = await session.execute(stmt)
    return result.rowcount == 1  # type: ignore[attr-defined]


def add(session: AsyncSession, row: object) -> None:
    session.add(row)


async def page(
    session: AsyncSession, f: ProfileFilter, offset: int, limit: int
) -> tuple[Sequence[B2bProfile], int]:
    query = select(B2bProfile).where(
        *listing.given((B2bProfile.status, f.status), (B2bProfile.group_id, f.group_id))
    )
    return await listing.page(
        session,
        query,
        order_by=(B2bProfile.created_at.desc(), B2bProfile.id),
        offset=offset,
        limit=limit,
    )


async def counts(session: AsyncSession) -> list[tuple[uuid.UUID | None, str, int]]:
    """Profiles per (group, status): one GROUP BY over the pool."""
    rows = await session.execute(
        select(B2bProfile.group_id, B2bProfile.status, func.count()).group_by(
            B2bProfile.group_id, B2bProfile.status
        )
    )
    return [(g, s, int(n)) for g, s, n in rows.all()]


async def get_profile(session: AsyncSession, profile_id: uuid.UUID) -> B2bProfile | None:
    return await session.get(B2bProfile, profile_id)


async def lock_profile(session: AsyncSession, profile_id: uuid.UUID) -> B2bProfile | None:
    return await session.scalar(
        select(B2bProfile).where(B2bProfile.id == profile_id).with_for_update()
    )


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> B2bGroup | None:
    return await session.get(B2bGroup, group_id)


async def group_by_name(session: AsyncSession, name: str) -> B2bGroup | None:
    return await session.scalar(select(B2bGroup).where(func.lower(B2bGroup.name) == name.lower()))


async def groups(session: AsyncSession) -> Sequence[B2bGroup]:
    return (await session.scalars(select(B2bGroup).order_by(B2bGroup.name))).all()


async def group_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set((await session.scalars(select(B2bGroup.id).where(B2bGroup.id.in_(wanted)))).all())


async def invites_of(session: AsyncSession, group_id: uuid.UUID) -> Sequence[B2bInvite]:
    rows = await session.scalars(
        select(B2bInvite)
        .where(B2bInvite.group_id == group_id)
        .order_by(B2bInvite.created_at.desc(), B2bInvite.id)
    )
    return rows.all()


async def invite_by_hash(session: AsyncSession, code_hash: str) -> B2bInvite | None:
    return await session.scalar(select(B2bInvite).where(B2bInvite.code_hash == code_hash))


async def take_invite_use(session: AsyncSession, invite_id: uuid.UUID, now: datetime) -> bool:
    """Count one use if one is left and the invite is live. A conditional UPDATE: concurrent
    redeems serialize on the row (PostgreSQL re-checks the WHERE after the lock, SQLite has one
    writer), so uses never pass max_uses."""
    result = await session.execute(
        update(B2bInvite)
        .where(
            B2bInvite.id == invite_id,
            B2bInvite.uses < B2bInvite.max_uses,
            (B2bInvite.expires_at.is_(None)) | (B2bInvite.expires_at > now),
        )
        .values(uses=B2bInvite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def assigned_in_group(
    session: AsyncSession, client_id: uuid.UUID, group_id: uuid.UUID
) -> B2bProfile | None:
    return await session.scalar(
        select(B2bProfile)
        .where(
            B2bProfile.client_id == client_id,
            B2bProfile.group_id == group_id,
            B2bProfile.status == ASSIGNED,
        )
        .order_by(B2bProfile.assigned_at)
        .limit(1)
    )


async def available_candidates(
    session: AsyncSession, group_id: uuid.UUID, limit: int, *, skip_locked: bool
) -> list[uuid.UUID]:
    """Oldest available profiles of the group; on PostgreSQL rows another redeem holds are
    skipped rather than waited for."""
    query = (
        select(B2bProfile.id)
        .where(B2bProfile.group_id == group_id, B2bProfile.status == AVAILABLE)
        .order_by(B2bProfile.created_at, B2bProfile.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query)).all())


async def claim(
    session: AsyncSession, profile_id: uuid.UUID, client_id: uuid.UUID, now: datetime
) -> bool:
    """Assign the profile if it is still available: two redeems never get the same one."""
    result = await session.execute(
        update(B2bProfile)
        .where(B2bProfile.id == profile_id, B2bProfile.status == AVAILABLE)
        .values(status=ASSIGNED, client_id=client_id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
