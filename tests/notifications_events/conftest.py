"""Builders for the events' notifications: a client the bot can reach (`tg_<id>`), and the
notification rows the events wrote."""

from __future__ import annotations

import itertools
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import service as clients
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import Client, Notification
from tests.card_transactions.conftest import Buyer, authorization, authorize, make_buyer

_telegram_ids = itertools.count(700_000_001)


async def reachable(db: Database, client_id: uuid.UUID, threshold: int | None = None) -> int:
    """Make the client a Telegram one (`tg_<id>`), with a low-balance threshold; its chat id."""
    chat = next(_telegram_ids)
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.external_user_id = f"tg_{chat}"
        if threshold is not None:
            await clients.set_low_balance_threshold(session, client, threshold)
    return chat


async def rows_in(session: AsyncSession, client_id: uuid.UUID) -> list[Notification]:
    query = (
        select(Notification)
        .where(Notification.client_id == client_id)
        .order_by(Notification.created_at, Notification.event_key)
    )
    return list((await session.scalars(query)).all())


async def notifications(db: Database, client_id: uuid.UUID) -> list[Notification]:
    """The client's notification rows, oldest first."""
    async with db.transaction() as session:
        return await rows_in(session, client_id)


async def kinds(db: Database, client_id: uuid.UUID) -> list[str]:
    return [n.kind for n in await notifications(db, client_id)]


async def one(db: Database, client_id: uuid.UUID, kind: str) -> Notification:
    """The client's only notification of `kind`."""
    found = [n for n in await notifications(db, client_id) if n.kind == kind]
    assert len(found) == 1, [n.event_key for n in found]
    return found[0]


async def bought(
    http: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    amount: int,
    *,
    funds: int,
    threshold: int | None = None,
) -> tuple[Buyer, str]:
    """A Telegram client's card and a purchase of `amount` cents approved on it (its issuer
    transaction id)."""
    buyer = await make_buyer(db, funds=funds)
    await reachable(db, buyer.client_id, threshold)
    body = authorization(buyer, amount)
    assert (await authorize(http, settings, body))["approved"]
    return buyer, str(body["transaction_id"])
