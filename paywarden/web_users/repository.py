"""All SQL on web users and their sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.models import WebUser, WebUserSession
from paywarden.web_users.filters import WebUserFilter


def add(session: AsyncSession, row: WebUser | WebUserSession) -> None:
    session.add(row)


async def get(session: AsyncSession, web_user_id: uuid.UUID) -> WebUser | None:
    return await session.get(WebUser, web_user_id)


async def by_email(session: AsyncSession, email: str) -> WebUser | None:
    return await session.scalar(select(WebUser).where(WebUser.email == email))


def _where(f: WebUserFilter) -> list[ColumnElement[bool]]:
    where = listing.given((WebUser.status, f.status))
    if f.search:
        term = f.search.strip().lower()
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        options: list[ColumnElement[bool]] = [
            WebUser.email.like(like, escape="\\"),
            func.lower(WebUser.external_user_id).like(like, escape="\\"),
        ]
        try:
            as_id = uuid.UUID(term)
        except ValueError:
            as_id = None
        if as_id is not None:
            options += [WebUser.id == as_id, WebUser.client_id == as_id]
        where.append(or_(*options))
    return where


async def search(
    session: AsyncSession, f: WebUserFilter, offset: int, limit: int
) -> tuple[Sequence[WebUser], int]:
    return await listing.page(
        session,
        select(WebUser).where(*_where(f)),
        order_by=(WebUser.created_at.desc(), WebUser.id),
        offset=offset,
        limit=limit,
    )


async def session_by_id(session: AsyncSession, session_id: uuid.UUID) -> WebUserSession | None:
    return await session.get(WebUserSession, session_id)


async def revoke_session(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(WebUserSession)
        .where(WebUserSession.id == session_id, WebUserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_sessions_of(session: AsyncSession, web_user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(WebUserSession)
        .where(WebUserSession.web_user_id == web_user_id, WebUserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def delete_user(session: AsyncSession, web_user_id: uuid.UUID) -> None:
    await session.execute(delete(WebUserSession).where(WebUserSession.web_user_id == web_user_id))
    await session.execute(delete(WebUser).where(WebUser.id == web_user_id))
