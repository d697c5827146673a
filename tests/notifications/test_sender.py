"""The sender against the fake Bot API over real HTTP: sends, retries (429 with retry_after, 5xx),
gives up (403 blocked, 400 rejected), deletes codes' messages when the codes expire, skips codes
that can no longer serve, and keeps to Telegram's limits."""

from __future__ import annotations

import asyncio
import time

import httpx

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client
from paywarden.notifications import service
from paywarden.telegram.client import BotApi
from tests.bot.conftest import Fake
from tests.notifications.conftest import (
    attempts,
    code_notification,
    enqueue,
    eventually,
    rows,
    sender,
    settled,
    telegram_client,
)


async def test_the_sender_sends_once(db: Database, api: BotApi, fake: Fake) -> None:
    client_id, chat = await telegram_client(db, language="ru")
    await enqueue(db, client_id)
    async with sender(db, api):
        [row] = await settled(db, 1)
        await asyncio.sleep(0.3)  # more polls: nothing goes out twice
    [message] = await fake.sent(chat)
    assert message["text"].startswith("✅")
    assert "1250" not in message["text"]  # amounts in their decimals: 12.50 EUR
    assert (row.status, row.message_id, row.attempts) == ("sent", message["message_id"], 1)
    assert [a.outcome for a in await attempts(db, row.id)] == ["sent"]


async def test_429_waits_exactly_retry_after(db: Database, api: BotApi, fake: Fake) -> None:
    client_id, chat = await telegram_client(db)
    await enqueue(db, client_id)
    await fake.program("sendMessage", [{"status": 429, "retry_after": 2}])
    async with sender(db, api):
        [row] = await settled(db, 1)
    first, second = [c for c in await fake.calls("sendMessage") if c["chat_id"] == chat]
    assert first["status"] == 429
    assert second["status"] == 200
    assert second["at"] - first["at"] >= 2.0  # not before Telegram's retry_after
    assert row.status == "sent"
    assert row.attempts == 2
    tried = await attempts(db, row.id)
    assert [(a.outcome, a.retry_after) for a in tried] == [("retry_after", 2), ("sent", None)]


async def test_a_server_error_is_retried_after_a_backoff(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    await enqueue(db, client_id)
    await fake.program("sendMessage", [{"status": 500}, {"status": 502}])
    async with sender(db, api):
        [row] = await settled(db, 1, within=30)
    calls = [c for c in await fake.calls("sendMessage") if c["chat_id"] == chat]
    assert [c["status"] for c in calls] == [500, 502, 200]
    # Growing delays: 2 s, then 6 s (each with up to 20% jitter).
    assert calls[1]["at"] - calls[0]["at"] >= service.BACKOFF_BASE_SECONDS
    assert calls[2]["at"] - calls[1]["at"] >= service.BACKOFF_BASE_SECONDS * 3
    assert row.status == "sent"
    assert row.attempts == 3
    outcomes = [a.outcome for a in await attempts(db, row.id)]
    assert outcomes == ["server_error", "server_error", "sent"]


async def test_403_blocks_the_client_and_nothing_more_is_sent(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    other_id, other_chat = await telegram_client(db)
    await enqueue(db, client_id, key="first")
    await fake.program("sendMessage", [{"status": 403}])
    async with sender(db, api):
        await settled(db, 1)
        for i in range(3):  # written before the block was known: never sent
            await enqueue(db, other_id, key=f"other-{i}")
        await settled(db, 4)
    blocked = await rows(db, client_id)
    assert [n.status for n in blocked] == ["blocked"]
    assert [a.outcome for a in await attempts(db, blocked[0].id)] == ["blocked"]
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        assert client.bot_blocked_at is not None
    assert await fake.sent(chat) == []
    assert not await enqueue(db, client_id)  # nothing more written for the client
    assert len(await fake.sent(other_chat)) == 3  # the others are not held back


async def test_the_clients_waiting_notifications_close_with_the_block(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    for i in range(4):
        await enqueue(db, client_id, key=f"{chat}-{i}")
    await fake.program("sendMessage", [{"status": 403}])
    async with sender(db, api):
        found = await settled(db, 4)
    assert [n.status for n in found] == ["blocked"] * 4
    calls = [c for c in await fake.calls("sendMessage") if c["chat_id"] == chat]
    assert [c["status"] for c in calls] == [403]  # one try; the rest never went out


async def test_a_rejected_message_fails_without_retrying(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    await enqueue(db, client_id)
    bad = {"status": 400, "description": "Bad Request: chat not found"}
    await fake.program("sendMessage", [bad])
    async with sender(db, api):
        [row] = await settled(db, 1)
        await asyncio.sleep(0.3)
    assert row.status == "failed"
    assert "chat not found" in (row.last_error or "").lower()
    assert len([c for c in await fake.calls("sendMessage") if c["chat_id"] == chat]) == 1
    assert [a.outcome for a in await attempts(db, row.id)] == ["rejected"]


async def test_a_codes_message_is_deleted_when_the_code_expires(
    client: httpx.AsyncClient, db: Database, settings: Settings, api: BotApi, fake: Fake
) -> None:
    _, chat, code = await code_notification(client, db, settings, otp="739201", seconds=2.5)
    async with sender(db, api):
        [message] = await fake.wait_sent(chat, 1)
        assert "739201" in message["text"].splitlines()
        assert "Never share" in message["text"]

        async def deleted() -> bool:
            return any(d["message_id"] == message["message_id"] for d in await _deleted(fake))

        await eventually(deleted, within=10)
    [row] = await rows(db)
    assert row.deleted_at is not None
    assert row.deleted_at >= code.expires_at
    outcomes = [(a.action, a.outcome) for a in await attempts(db, row.id)]
    assert outcomes == [("send", "sent"), ("delete", "deleted")]


async def test_a_message_already_gone_counts_as_deleted(
    client: httpx.AsyncClient, db: Database, settings: Settings, api: BotApi, fake: Fake
) -> None:
    await code_notification(client, db, settings, otp="739202", seconds=1.5)
    gone = {"status": 400, "description": "Bad Request: message to delete not found"}
    await fake.program("deleteMessage", [gone])
    async with sender(db, api):

        async def done() -> bool:
            return all(n.deleted_at is not None for n in await rows(db))

        await eventually(done, within=10)
    [row] = await rows(db)
    outcomes = [(a.action, a.outcome) for a in await attempts(db, row.id)]
    assert outcomes == [("send", "sent"), ("delete", "rejected")]
    assert len(await fake.calls("deleteMessage")) == 1


async def test_a_code_that_can_no_longer_serve_is_skipped(
    client: httpx.AsyncClient, db: Database, settings: Settings, api: BotApi, fake: Fake
) -> None:
    _, chat, _ = await code_notification(client, db, settings, otp="739203", seconds=0.5)
    await asyncio.sleep(0.6)  # expired before the bot got to it
    async with sender(db, api):
        [row] = await settled(db, 1)
    assert row.status == "skipped"
    assert row.message_id is None
    assert await fake.sent(chat) == []
    assert await attempts(db, row.id) == []  # no call was made


async def test_a_code_goes_out_before_a_backlog(
    client: httpx.AsyncClient, db: Database, settings: Settings, api: BotApi, fake: Fake
) -> None:
    clients = [await telegram_client(db) for _ in range(60)]
    for client_id, _chat in clients:  # two seconds of sending at Telegram's 30 a second
        await enqueue(db, client_id)
    _, chat, _ = await code_notification(client, db, settings, otp="739204")
    async with sender(db, api):
        [message] = await fake.wait_sent(chat, 1)
        await settled(db, 61)
    everything = await fake.sent()
    assert everything.index(message) < 5  # the code first (or nearly: sends already started)


async def test_sending_keeps_to_telegrams_limits(db: Database, api: BotApi, fake: Fake) -> None:
    """60 messages to 3 chats (one a second each), then 100 to 100 chats (30 a second)."""
    few = [await telegram_client(db) for _ in range(3)]
    many = [await telegram_client(db) for _ in range(100)]
    for i in range(20):
        for client_id, chat in few:
            await enqueue(db, client_id, key=f"{chat}-{i}")
    for client_id, _ in many:
        await enqueue(db, client_id)
    started = time.monotonic()
    async with sender(db, api):
        await settled(db, 160, within=60)
    elapsed = time.monotonic() - started
    assert (await fake.http.get("/_fake/limits")).json()["violations"] == []
    assert len(await fake.sent()) == 160
    assert elapsed < 30  # 20 a chat at one a second (the 100 others meanwhile)
    assert {n.status for n in await rows(db)} == {"sent"}


async def test_a_killed_senders_claims_are_sent_at_the_next_start(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    await enqueue(db, client_id)
    async with db.transaction() as session:  # claimed, then the process died before sending
        [job] = await service.claim_due(session, utcnow())
    from paywarden.bot.sender import release_orphans

    assert await release_orphans(db) == 1
    async with sender(db, api):
        [row] = await settled(db, 1)
    assert row.id == job.id
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(await fake.sent(chat)) == 1


async def test_a_graceful_stop_puts_back_what_waits_for_a_slot(
    db: Database, api: BotApi, fake: Fake
) -> None:
    client_id, chat = await telegram_client(db)
    for i in range(2):
        await enqueue(db, client_id, key=f"n-{i}")
    async with sender(db, api):
        await fake.wait_sent(chat, 1)  # the second waits a second for the chat
    statuses = sorted(n.status for n in await rows(db))
    assert statuses == ["pending", "sent"]
    waiting = next(n for n in await rows(db) if n.status == "pending")
    assert waiting.attempts == 0  # never tried
    assert len(await fake.sent(chat)) == 1


async def _deleted(fake: Fake) -> list[dict[str, object]]:
    return list((await fake.http.get("/_fake/deleted")).json())
