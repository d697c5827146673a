"""The bot's outbox: what a client is told in Telegram, and what became of each message.

`enqueue` writes a notification in the transaction of the event it tells (the reactions in
`reactions.py` call it), once per event key. The bot's sender (`paywarden/bot/sender.py`) takes
them with `claim_due`, sends, and hands each outcome to `record_send`, which decides: sent,
retried later (Telegram's `retry_after` exactly, else a growing delay), given up (failed),
blocked (the client blocked the bot: it and the client's other waiting notifications are closed,
and nothing more is written for the client until it talks to the bot again), or skipped (a 3-D
Secure code that can no longer serve). A message that must not outlive what it says (a 3-D
Secure code) is deleted from the chat at its `delete_at`: `claim_deletions`, `record_delete`.

A claim commits before anything is sent (status `sending` until the claim's lease ends), so two
senders never take the same row; a sender killed mid-send leaves `sending` rows that the next
bot process puts back at its start (`release_orphans`: one bot runs per token) or that fall due
again when their lease lapses. Services never commit: the caller's transaction does.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions.codes import plain_code
from paywarden.kit.time import utcnow
from paywarden.models.notifications import (
    BLOCKED,
    CODE_3DS,
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
)
from paywarden.notifications import repository as repo

# A claimed row is the sender's for this long; after it, the row is due again (a killed sender).
CLAIM_LEASE = timedelta(seconds=60)
# Retries of a send that may succeed later (a 5xx, a timeout): a growing delay, then give up
# (a 429 is retried after Telegram's retry_after, for up to a day).
MAX_ATTEMPTS = 10
GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_FACTOR = 3.0
BACKOFF_CAP_SECONDS = 3600.0
# A 3-D Secure code is worth minutes: its retries stay close together.
CODE_BACKOFF_CAP_SECONDS = 5.0
JITTER = 0.2  # up to 20% added to each delay, so retries of one outage spread out
# A failed deletion (a 5xx) is tried again after this long.
DELETE_RETRY_SECONDS = 10.0
ALIVE_WITHIN = timedelta(seconds=60)


async def enqueue(
    db: AsyncSession,
    *,
    client_id: uuid.UUID,
    kind: str,
    key: str,
    params: dict[str, Any],
    delete_at: datetime | None = None,
) -> bool:
    """Write the notification `kind:key` in the caller's transaction. Nothing (False) for a
    client the bot cannot or must not reach (no Telegram chat, banned, blocked the bot), or
    when the key was written before; True when written."""
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "kind": kind,
        "event_key": f"{kind}:{key}",
        "params": params,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "delete_at": delete_at,
    }
    return await repo.insert_for_client(db, client_id, values)


# ---- what the console reads ---------------------------------------------------------------


@dataclass(frozen=True)
class ClientNotification:
    id: uuid.UUID
    kind: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    deleted_at: datetime | None
    last_error: str | None


async def for_client(
    db: AsyncSession, client_id: uuid.UUID, limit: int = 50
) -> list[ClientNotification]:
    """The client's notifications, newest first."""
    return [
        ClientNotification(
            id=n.id,
            kind=n.kind,
            status=n.status,
            attempts=n.attempts,
            created_at=n.created_at,
            sent_at=n.sent_at,
            deleted_at=n.deleted_at,
            last_error=n.last_error,
        )
        for n in await repo.for_client(db, client_id, limit)
    ]


@dataclass(frozen=True)
class QueueStats:
    pending: int
    sending: int
    oldest_pending_seconds: float | None  # age of the oldest notification still to send
    sent_24h: int
    failed_24h: int
    blocked_24h: int


async def queue_stats(db: AsyncSession, now: datetime) -> QueueStats:
    counts = await repo.queue_counts(db, now - timedelta(hours=24))
    oldest = counts.oldest_pending
    return QueueStats(
        pending=counts.pending,
        sending=counts.sending,
        oldest_pending_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        sent_24h=counts.sent,
        failed_24h=counts.failed,
        blocked_24h=counts.blocked,
    )


@dataclass(frozen=True)
class BotHealth:
    username: str | None
    mode: str
    holder: str
    started_at: datetime
    heartbeat_at: datetime
    last_update_at: datetime | None
    last_error: str | None
    alive: bool  # a heartbeat within the last minute


async def bot_health(db: AsyncSession, now: datetime) -> BotHealth | None:
    """The newest bot's heartbeat; None when no bot ever ran."""
    row = await repo.latest_bot_status(db)
    if row is None:
        return None
    return BotHealth(
        username=row.username,
        mode=row.mode,
        holder=row.holder,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        last_update_at=row.last_update_at,
        last_error=row.last_error,
        alive=now - row.heartbeat_at <= ALIVE_WITHIN,
    )


async def heartbeat(
    db: AsyncSession,
    *,
    bot_id: str,
    username: str | None,
    mode: str,
    holder: str,
    started_at: datetime,
    now: datetime,
    last_update_at: datetime | None = None,
    last_error: str | None = None,
) -> None:
    """The bot process is alive: its status row written or refreshed."""
    await repo.upsert_bot_status(
        db,
        {
            "id": bot_id,
            "username": username,
            "mode": mode,
            "holder": holder,
            "started_at": started_at,
            "heartbeat_at": now,
            "last_update_at": last_update_at,
            "last_error": last_error,
        },
    )


async def unblock(db: AsyncSession, client_id: uuid.UUID) -> None:
    """The client talked to the bot again: it may be told things again."""
    await repo.clear_blocked(db, client_id)


# ---- the sender's side --------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One claimed notification, detached from the session: what the sender needs."""

    id: uuid.UUID
    client_id: uuid.UUID
    chat_id: int
    kind: str
    params: dict[str, Any]
    attempt: int  # this attempt's number, from 1
    created_at: datetime
    app_language: str | None  # the client's choice in the app
    language: str | None  # Telegram's language code of the client
    code: str | None = field(default=None, repr=False)  # a 3-D Secure code, clear: never logged

    @property
    def urgent(self) -> bool:
        return self.kind == CODE_3DS


async def claim_due(
    db: AsyncSession,
    now: datetime,
    *,
    limit: int = 100,
    exclude_ids: Collection[uuid.UUID] = (),
    full_chats: Collection[int] = (),
    per_chat: int = 2,
) -> list[Job]:
    """Claim what is due, 3-D Secure codes first (see `repo.claim_due`). A code is read in
    clear here, just before it is sent; one that can no longer serve (used, expired) is
    marked skipped instead of being handed out."""
    jobs = []
    for n, app_language, language in await repo.claim_due(
        db,
        now,
        now + CLAIM_LEASE,
        limit,
        exclude_ids=exclude_ids,
        full_chats=full_chats,
        per_chat=per_chat,
    ):
        code = None
        if n.kind == CODE_3DS:
            code = await _code(db, n.params, now)
            if code is None:
                n.status, n.last_error = SKIPPED, "the code expired or was used before it was sent"
                continue
        jobs.append(
            Job(
                id=n.id,
                client_id=n.client_id,
                chat_id=n.chat_id,
                kind=n.kind,
                params=dict(n.params),
                attempt=n.attempts,
                created_at=n.created_at,
                app_language=app_language,
                language=language,
                code=code,
            )
        )
    return jobs


async def _code(db: AsyncSession, params: dict[str, Any], now: datetime) -> str | None:
    try:
        code_id = uuid.UUID(str(params.get("code_id")))
    except ValueError:
        return None
    return await plain_code(db, code_id, now)


# What became of one call to the Bot API.
OK = "ok"
RETRY = "retry"  # 429 or 5xx, a timeout, a refused connection: may succeed later
BLOCKED_BY_USER = "blocked"  # 403
REJECTED = "rejected"  # another 4xx: retrying cannot help


@dataclass(frozen=True)
class Outcome:
    result: str  # OK | RETRY | BLOCKED_BY_USER | REJECTED
    started_at: datetime
    duration_ms: int
    message_id: int | None = None  # OK, a send: Telegram's id of the message
    retry_after: float | None = None  # RETRY: the seconds Telegram asked for (429)
    error: str | None = None
    network: bool = False  # RETRY without an answer (a timeout, a refused connection)

    @property
    def attempt_outcome(self) -> str:
        """The attempt row's word for it."""
        if self.result == RETRY:
            if self.retry_after is not None:
                return "retry_after"
            return "network" if self.network else "server_error"
        return self.result


async def record_send(db: AsyncSession, job: Job, outcome: Outcome, now: datetime) -> str:
    """Record a send's attempt and decide the notification's status; returns it."""
    _attempt(db, job.id, "send", outcome)
    n = await repo.locked(db, job.id)
    if n is None:  # pragma: no cover - a client deleted with its notifications
        return FAILED
    if outcome.result == OK:
        n.status, n.message_id, n.sent_at, n.last_error = SENT, outcome.message_id, now, None
        return SENT
    n.last_error = outcome.error
    if outcome.result == BLOCKED_BY_USER:
        n.status = BLOCKED
        await db.flush()
        await repo.block_client(db, job.client_id, now)
        return BLOCKED
    if outcome.result == REJECTED or _given_up(job, outcome, now):
        n.status = FAILED
        return FAILED
    n.status, n.next_attempt_at = PENDING, now + timedelta(seconds=retry_delay(job, outcome))
    return PENDING


def _attempt(db: AsyncSession, notification_id: uuid.UUID, action: str, outcome: Outcome) -> None:
    """The attempt's row: a send (`sent`) or a deletion (`deleted`), or how it failed."""
    done = "sent" if action == "send" else "deleted"
    repo.add_attempt(
        db,
        {
            "notification_id": notification_id,
            "action": action,
            "started_at": outcome.started_at,
            "duration_ms": outcome.duration_ms,
            "outcome": done if outcome.result == OK else outcome.attempt_outcome,
            "retry_after": None if outcome.retry_after is None else int(outcome.retry_after),
            "error": outcome.error,
        },
    )


def _given_up(job: Job, outcome: Outcome, now: datetime) -> bool:
    """A day old, or MAX_ATTEMPTS tries; Telegram asking to wait (a 429) is no failure of the
    message's own and does not count towards them."""
    if now - job.created_at >= GIVE_UP_AFTER:
        return True
    return outcome.retry_after is None and job.attempt >= MAX_ATTEMPTS


def retry_delay(job: Job, outcome: Outcome) -> float:
    """Telegram's `retry_after` exactly; else a delay growing with each attempt, with jitter."""
    if outcome.retry_after is not None:
        return float(outcome.retry_after)
    cap = CODE_BACKOFF_CAP_SECONDS if job.urgent else BACKOFF_CAP_SECONDS
    delay = min(cap, BACKOFF_BASE_SECONDS * BACKOFF_FACTOR ** (job.attempt - 1))
    return delay * (1 + random.uniform(0, JITTER))  # noqa: S311 - spreads retries, not a secret


async def record_blocked(db: AsyncSession, job: Job) -> None:
    """A claimed notification of a client found to have blocked the bot: not sent."""
    n = await repo.locked(db, job.id)
    if n is not None:
        n.status, n.last_error = BLOCKED, "the client blocked the bot"


async def release(db: AsyncSession, ids: Collection[uuid.UUID], now: datetime) -> int:
    """Claimed notifications never sent (the sender is stopping) back to pending."""
    return await repo.release(db, ids, now)


async def release_orphans(db: AsyncSession, now: datetime) -> int:
    """Every `sending` row back to pending: called by the only sender as it starts, so these
    are a killed process's claims (a message it had in flight may go out a second time)."""
    return await repo.release_all_sending(db, now)


@dataclass(frozen=True)
class Deletion:
    notification_id: uuid.UUID
    chat_id: int
    message_id: int


async def claim_deletions(db: AsyncSession, now: datetime, *, limit: int = 50) -> list[Deletion]:
    """Sent messages due for deletion (a 3-D Secure code past its time), claimed."""
    rows = await repo.claim_deletions(db, now, now + CLAIM_LEASE, limit)
    return [Deletion(i, chat, message) for i, chat, message in rows]


async def record_delete(
    db: AsyncSession, deletion: Deletion, outcome: Outcome, now: datetime
) -> bool:
    """Record a deletion's attempt; True when the message is gone (deleted, or found gone:
    Telegram refuses the deletion of a message that is not there, and a blocked chat keeps
    nothing we could delete). A deletion that may succeed later is tried again."""
    _attempt(db, deletion.notification_id, "delete", outcome)
    if outcome.result == RETRY:
        delay = outcome.retry_after if outcome.retry_after is not None else DELETE_RETRY_SECONDS
        await repo.set_deletion(
            db, deletion.notification_id, delete_at=now + timedelta(seconds=delay)
        )
        return False
    await repo.set_deletion(db, deletion.notification_id, deleted_at=now)
    return True
