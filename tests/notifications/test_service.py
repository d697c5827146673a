"""The outbox's rules: who gets a notification, once per event; claims; what the console reads."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy import update

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client
from paywarden.notifications import service
from paywarden.notifications.service import OK, REJECTED, RETRY, Outcome
from tests.notifications.conftest import enqueue, rows, telegram_client


async def test_enqueue_writes_one_row_per_event_key(db: Database) -> None:
    client_id, chat = await telegram_client(db)
    assert await enqueue(db, client_id, key="tx-1")
    assert not await enqueue(db, client_id, key="tx-1")  # the event handled again
    assert await enqueue(db, client_id, "card_declined", key="tx-1")  # another kind, same id
    found = await rows(db, client_id)
    assert sorted(n.event_key for n in found) == ["card_approved:tx-1", "card_declined:tx-1"]
    assert {(n.chat_id, n.status, n.attempts) for n in found} == {(chat, "pending", 0)}


async def test_no_notification_for_whom_the_bot_cannot_reach(db: Database) -> None:
    async with db.transaction() as session:
        web = await clients.upsert_client(session, f"web_{uuid.uuid4().hex[:12]}")
    assert not await enqueue(db, web.id)

    banned, _ = await telegram_client(db)
    blocked, _ = await telegram_client(db)
    async with db.transaction() as session:
        await session.execute(update(Client).where(Client.id == banned).values(status="banned"))
        await session.execute(
            update(Client).where(Client.id == blocked).values(bot_blocked_at=utcnow())
        )
    assert not await enqueue(db, banned)
    assert not await enqueue(db, blocked)
    assert not await enqueue(db, uuid.uuid4())  # no such client
    assert await rows(db) == []

    async with db.transaction() as session:  # the client talked to the bot again
        await service.unblock(session, blocked)
    assert await enqueue(db, blocked)


async def test_claims_take_codes_first_never_twice_and_lapsed_claims_again(db: Database) -> None:
    client_id, _ = await telegram_client(db)
    for i in range(3):
        await enqueue(db, client_id, key=f"old-{i}")
    await enqueue(db, client_id, "code_3ds", {"code_id": str(uuid.uuid4()), "amount": 1}, key="c")
    now = utcnow()
    async with db.transaction() as session:
        first = await service.claim_due(session, now, limit=2)
    # The code's row goes first, but its code is gone: skipped, never handed out.
    assert [j.kind for j in first] == ["card_approved"]
    async with db.transaction() as session:
        second = await service.claim_due(session, now, limit=10)
        again = await service.claim_due(session, now, limit=10)
    assert len(second) == 2
    assert again == []
    assert not {j.id for j in first} & {j.id for j in second}
    statuses = sorted(n.status for n in await rows(db))
    assert statuses == ["sending", "sending", "sending", "skipped"]

    # A claim's lease lapsed (its sender was killed): due again, one more attempt.
    later = now + service.CLAIM_LEASE + timedelta(seconds=1)
    async with db.transaction() as session:
        lapsed = await service.claim_due(session, later, limit=10, per_chat=10)
    assert sorted(j.attempt for j in lapsed) == [2, 2, 2]

    # The only sender starting puts every claimed row back, due now.
    async with db.transaction() as session:
        assert await service.release_orphans(session, utcnow()) == 3
    assert sorted(n.status for n in await rows(db)) == ["pending", "pending", "pending", "skipped"]


async def test_a_claim_takes_a_few_of_each_chat(db: Database) -> None:
    busy, busy_chat = await telegram_client(db)
    quiet, _ = await telegram_client(db)
    for i in range(5):
        await enqueue(db, busy, key=f"busy-{i}")
    await enqueue(db, quiet, key="quiet")
    async with db.transaction() as session:
        first = await service.claim_due(session, utcnow(), limit=10, per_chat=2)
    assert sorted(j.client_id == busy for j in first) == [False, True, True]

    # The chat is full in the sender's hands: nothing more of it but a code.
    await enqueue(db, busy, "code_3ds", {"code_id": str(uuid.uuid4()), "amount": 1}, key="c")
    async with db.transaction() as session:
        assert await service.claim_due(session, utcnow(), full_chats=[busy_chat]) == []
    statuses = sorted(n.status for n in await rows(db, busy))
    # The code was taken (and skipped: it is no real code); three still wait.
    assert statuses == ["pending", "pending", "pending", "sending", "sending", "skipped"]


async def test_two_senders_claiming_at_once_never_take_the_same_row(db: Database) -> None:
    client_id, _ = await telegram_client(db)
    for i in range(60):
        await enqueue(db, client_id, key=f"n-{i}")
    now = utcnow()

    async def claimer() -> list[uuid.UUID]:
        taken: list[uuid.UUID] = []
        while True:
            async with db.transaction() as session:
                jobs = await service.claim_due(session, now, limit=7, per_chat=100)
                await asyncio.sleep(0.01)  # hold the locks a moment: the other runs meanwhile
            if not jobs:
                return taken
            taken += [j.id for j in jobs]

    a, b = await asyncio.gather(claimer(), claimer())
    assert not set(a) & set(b)
    assert len(a) + len(b) == 60
    assert {n.attempts for n in await rows(db)} == {1}


async def test_outcomes_decide_the_status(db: Database) -> None:
    client_id, _ = await telegram_client(db)
    for key in ("sent", "retry", "429", "rejected", "exhausted", "flood"):
        await enqueue(db, client_id, params={"key": key, "amount": 1}, key=key)
    now = utcnow()
    async with db.transaction() as session:
        claimed = await service.claim_due(session, now, per_chat=10)
        jobs = {j.params["key"]: j for j in claimed}

    async def record(key: str, outcome: Outcome, attempt: int | None = None) -> str:
        job = jobs[key]
        if attempt is not None:
            job = dataclasses.replace(job, attempt=attempt)
        async with db.transaction() as session:
            return await service.record_send(session, job, outcome, now)

    assert await record("sent", Outcome(OK, now, 5, message_id=77)) == "sent"
    assert await record("retry", Outcome(RETRY, now, 5, error="Internal Error (500)")) == "pending"
    assert await record("429", Outcome(RETRY, now, 5, retry_after=7, error="flood")) == "pending"
    assert await record("rejected", Outcome(REJECTED, now, 5, error="chat not found")) == "failed"
    exhausted = Outcome(RETRY, now, 5, network=True, error="httpx.ConnectError")
    assert await record("exhausted", exhausted, attempt=service.MAX_ATTEMPTS) == "failed"
    flood = Outcome(RETRY, now, 5, retry_after=3)  # Telegram's waits never use the tries up
    assert await record("flood", flood, attempt=service.MAX_ATTEMPTS) == "pending"

    by_key = {n.params["key"]: n for n in await rows(db, client_id)}
    assert by_key["sent"].message_id == 77
    assert by_key["sent"].sent_at is not None
    assert by_key["429"].next_attempt_at == now + timedelta(seconds=7)  # Telegram's, exactly
    backoff = (by_key["retry"].next_attempt_at - now).total_seconds()
    assert service.BACKOFF_BASE_SECONDS <= backoff <= service.BACKOFF_BASE_SECONDS * 1.2
    assert by_key["rejected"].last_error == "chat not found"


async def test_the_console_reads_a_clients_notifications_and_the_queue(db: Database) -> None:
    client_id, _ = await telegram_client(db)
    other, _ = await telegram_client(db)
    await enqueue(db, client_id, key="a")
    await enqueue(db, client_id, "low_balance", {"balance": 1, "threshold": 5}, key="b")
    await enqueue(db, other, key="c")
    now = utcnow()
    async with db.transaction() as session:
        listed = await service.for_client(session, client_id)
        stats = await service.queue_stats(session, now + timedelta(seconds=30))
    assert [n.kind for n in listed] == ["low_balance", "card_approved"]  # newest first
    assert {n.status for n in listed} == {"pending"}
    assert (stats.pending, stats.sending, stats.sent_24h, stats.failed_24h) == (3, 0, 0, 0)
    assert stats.oldest_pending_seconds is not None
    assert 29 <= stats.oldest_pending_seconds <= 60


async def test_the_heartbeat_is_the_bots_health(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        assert await service.bot_health(session, now) is None  # never ran
        for at in (now - timedelta(seconds=30), now):
            await service.heartbeat(
                session,
                bot_id="b1",
                username="paywarden_bot",
                mode="polling",
                holder="host:1",
                started_at=now - timedelta(minutes=1),
                now=at,
                last_update_at=at,
            )
    async with db.transaction() as session:
        health = await service.bot_health(session, now + timedelta(seconds=10))
        stale = await service.bot_health(session, now + timedelta(minutes=5))
    assert health is not None
    assert health.alive
    assert (health.username, health.mode, health.heartbeat_at) == ("paywarden_bot", "polling", now)
    assert stale is not None
    assert not stale.alive
