"""All SQL on cards."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Card, Client
from paywarden.models.cards import CARD_CLOSED


async def get(session: AsyncSession, card_id: uuid.UUID, *, lock: bool = False) -> Card | None:
    query = select(Card).where(Card.id == card_id)
    if lock:
        # Populate: a row already in the session must show what the lock holder committed.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def by_client(session: AsyncSession, client_id: uuid.UUID) -> Sequence[Card]:
    """The client's cards, newest first."""
    query = (
        select(Card)
        .where(Card.client_id == client_id)
        .order_by(Card.created_at.desc(), Card.id.desc())
    )
    return (await session.scalars(query)).all()


async def count_open(session: AsyncSession, client_id: uuid.UUID) -> int:
    """The client's cards that are not closed (active or frozen)."""
    query = select(func.count()).where(Card.client_id == client_id, Card.status != CARD_CLOSED)
    return int(await session.scalar(query) or 0)


async def lock_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    """The client's row, locked: issuing cards for one client is serialized on it."""
    query = (
        select(Client)
        .where(Client.id == client_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


def add(session: AsyncSession, card: Card) -> None:
    session.add(card)
