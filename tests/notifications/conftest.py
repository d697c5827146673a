"""The outbox's tests: Telegram clients, notifications written as the events write them, and the
sender running in the test's event loop against the fake Bot API server over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from paywarden.bot.sender import run_sender
from paywarden.clients import service as clients
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import iso, utcnow
from paywarden.models import Client, Code3ds, Notification, NotificationAttempt
from paywarden.notifications import service
from paywarden.telegram.client import BotApi
from tests.bot.conftest import TOKEN, Fake, fake  # noqa: F401 - `fake` is a fixture
from tests.card_transactions.conftest import code_rows, event, make_buyer, send, tx_data

_chats = itertools.count(900_000_001)
POLL = 0.05  # the sender's poll in tests: quick, as the bar is about latency


@pytest.fixture
async def api(fake: Fake) -> AsyncIterator[BotApi]:  # noqa: F811 - the imported fixture
    bot = BotApi(TOKEN, fake.url, poll_timeout=1)
    await bot.open()
    try:
        yield bot
    finally:
        await bot.close()


async def telegram_client(
    db: Database,
    *,
    language: str | None = None,
    app_language: str | None = None,
    client_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, int]:
    """A client the bot can reach (`tg_<chat>`): a new one, or `client_id` made one."""
    chat = next(_chats)
    async with db.transaction() as session:
        if client_id is None:
            client = await clients.upsert_client(session, f"tg_{chat}", language=language)
        else:
            found = await session.get(Client, client_id)
            assert found is not None
            client = found
            client.external_user_id = f"tg_{chat}"
        client.app_language = app_language
        return client.id, chat


async def enqueue(
    db: Database,
    client_id: uuid.UUID,
    kind: str = "card_approved",
    params: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    delete_at: datetime | None = None,
) -> bool:
    params = params or {"card_last4": "4242", "merchant": "Coffee Shop", "amount": 1250}
    params.setdefault("currency", "EUR")
    async with db.transaction() as session:
        return await service.enqueue(
            session,
            client_id=client_id,
            kind=kind,
            key=key or uuid.uuid4().hex,
            params=params,
            delete_at=delete_at,
        )


async def code_notification(
    http: httpx.AsyncClient, db: Database, settings: Settings, *, otp: str, seconds: float = 300
) -> tuple[uuid.UUID, int, Code3ds]:
    """A Telegram client with a card, a real 3-D Secure code from the sandbox issuer's webhook
    (valid `seconds`), and its notification (as the events write it; no second one if the
    code's event wrote it already). Returns the client, its chat and the code's row."""
    buyer = await make_buyer(db)
    client_id, chat = await telegram_client(db, client_id=buyer.client_id)
    expires = utcnow() + timedelta(seconds=seconds)
    data = tx_data(buyer, f"tx_{uuid.uuid4().hex[:10]}", 1_999, otp=otp)
    data.update(expires_at=expires.isoformat(), transaction_amount="21.50")
    data.update(transaction_currency="USD")
    await send(http, settings, event("authentication.otp", data))
    [code] = await code_rows(db, client_id)
    params = {
        "code_id": str(code.id),
        "card_last4": "4242",
        "merchant": code.merchant,
        "amount": code.amount,
        "currency": code.currency,
        "expires_at": iso(code.expires_at),
    }
    await enqueue(db, client_id, "code_3ds", params, key=str(code.id), delete_at=code.expires_at)
    return client_id, chat, code


async def rows(db: Database, client_id: uuid.UUID | None = None) -> list[Notification]:
    """Notifications, oldest first."""
    query = select(Notification).order_by(Notification.created_at, Notification.id)
    if client_id is not None:
        query = query.where(Notification.client_id == client_id)
    async with db.transaction() as session:
        return list((await session.scalars(query)).all())


async def attempts(db: Database, notification_id: uuid.UUID) -> list[NotificationAttempt]:
    query = (
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id == notification_id)
        .order_by(NotificationAttempt.started_at)
    )
    async with db.transaction() as session:
        return list((await session.scalars(query)).all())


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    """Wait until `check()` holds (fails after `within` seconds)."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def settled(db: Database, count: int, within: float = 15) -> list[Notification]:
    """The notifications, once `count` of them are no longer pending or sending."""

    async def done() -> bool:
        return sum(n.status not in ("pending", "sending") for n in await rows(db)) >= count

    await eventually(done, within)
    return await rows(db)


@contextlib.asynccontextmanager
async def sender(db: Database, api: BotApi) -> AsyncIterator[asyncio.Task[None]]:
    """`run_sender` in this event loop; stopped (gracefully) after the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_sender(db, api, stop, poll_seconds=POLL))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
