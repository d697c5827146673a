"""All SQL on clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Client, ClientSession


async def get(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


async def by_external_id(session: AsyncSession, external_user_id: str) -> Client | None:
    return await session.scalar(select(Client).where(Client.external_user_id == external_user_id))


async def upsert(
    session: AsyncSession, values: dict[str, Any], changes: dict[str, Any], now: datetime
) -> Client:
    """Insert the client, or (same external_user_id) apply `changes` to it; race-safe."""
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Client)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["external_user_id"], set_={**changes, "last_active_at": now}
        )
        .returning(Client)
    )
    client = await session.scalar(stmt, execution_options={"populate_existing": True})
    assert client is not None
    return client


def add_session(session: AsyncSession, row: ClientSession) -> None:
    session.add(row)


async def session_by_id(session: AsyncSession, session_id: uuid.UUID) -> ClientSession | None:
    return await session.get(ClientSession, session_id)


async def revoke_session(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(ClientSession)
        .where(ClientSession.id == session_id, ClientSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
