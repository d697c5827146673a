"""The bot's sender: takes the notifications due from the outbox, sends them within Telegram's
limits, records what became of each, and deletes 3-D Secure codes' messages when the codes
expire.

The loop claims due rows every `poll_seconds` (at once again when a claim came back full): a
claim commits before anything is sent, so no row is sent twice by two senders, and a row stays
in this sender's hands (not claimed again) until its outcome is recorded. Each claimed row is
sent by its own task, which waits for its slot in the throttle (`throttle.py`: 30 messages a
second in all, one a second per chat, 3-D Secure codes first) and records the outcome in its
own short transaction. A chat never has more than CHAT_QUEUE of its notifications in hand at
once (codes aside), so a client's backlog cannot crowd out other clients' news.

Outcomes (`notifications.service.record_send` decides the status):
- sent: the message id kept, for the deletion of a code's message at its `delete_at`;
- 429: retried after exactly Telegram's `retry_after`, and the whole bot pauses that long;
- a 5xx, a timeout: retried after a growing delay, given up after MAX_ATTEMPTS or a day;
- 403 (the client blocked the bot): blocked, the client marked, its other waiting
  notifications closed, none of them sent;
- another 4xx: failed;
- a 3-D Secure code that can no longer serve (used, expired) is skipped, never sent.

Delivery is at least once, never knowingly twice. A process killed mid-send leaves its claimed
rows `sending`; the next bot process puts them back at its start (`release_orphans`; one bot
runs per token, under the runner's lock) and sends them then. A message whose request had
reached Telegram when the process died is then sent a second time: the Bot API has no
idempotency key to prevent it. Losing a message (a code the client waits for at a checkout) is
the worse failure, so that is the trade. A graceful stop sends nothing twice: rows still waiting
for a slot go back to `pending`, calls in flight finish and are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from paywarden.bot.messages import client_language, render
from paywarden.bot.throttle import NORMAL, URGENT, Throttle, ThrottleClosed
from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.notifications import service
from paywarden.notifications.service import (
    BLOCKED_BY_USER,
    OK,
    REJECTED,
    RETRY,
    Deletion,
    Job,
    Outcome,
)
from paywarden.telegram.client import Blocked, BotApi, Rejected, RetryLater

log = get_logger(__name__)
T = TypeVar("T")

BATCH = 100  # rows claimed at a time
MAX_IN_HAND = 120  # claimed, not yet recorded: about four seconds of sending at full speed
CHAT_QUEUE = 2  # a chat's notifications in hand at once (a 3-D Secure code always gets in)
DELETE_EVERY_SECONDS = 1.0
DELETE_BATCH = 50
STOP_GRACE_SECONDS = 15.0  # calls in flight at a stop are given this long to finish
BLOCKS_KEPT_SECONDS = 600.0  # how long a block found is remembered in this process
RECORD_TRIES = 5  # a failed outcome transaction is tried again (the database restarting)
RECORD_RETRY_SECONDS = 0.5
ERROR_CHARS = 500


async def release_orphans(db: Database) -> int:
    """Put back the rows a killed bot process had claimed (see the module's docstring). The
    runner calls it at start, holding the one-bot-per-token lock."""
    async with db.transaction() as session:
        released = await service.release_orphans(session, utcnow())
    if released:
        log.warning("bot_notifications_released", count=released)
    return released


async def run_sender(
    db: Database,
    api: BotApi,
    stop: asyncio.Event,
    *,
    poll_seconds: float = 0.2,
    throttle: Throttle | None = None,
) -> None:
    """Send the outbox until `stop` is set (`throttle`: one shared with the bot's replies)."""
    sender = Sender(db, api, throttle or Throttle())
    await sender.run(stop, poll_seconds)


class Sender:
    def __init__(self, db: Database, api: BotApi, throttle: Throttle) -> None:
        self.db = db
        self.api = api
        self.throttle = throttle
        self.in_hand: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.chat_load: Counter[int] = Counter()
        # Clients found to have blocked the bot, and when (monotonic): their rows claimed
        # before that are not sent.
        self.blocked_at: dict[uuid.UUID, float] = {}

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        deletions = asyncio.create_task(self._deletions(stop))
        try:
            while not stop.is_set():
                full = False
                try:
                    full = await self.claim()
                except Exception:
                    log.exception("bot_claim_failed")
                if not full:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), poll_seconds)
        finally:
            await self._stop(deletions)

    async def claim(self) -> bool:
        """Claim what is due and start sending it; True when the claim came back full."""
        room = min(BATCH, MAX_IN_HAND - len(self.in_hand))
        if room <= 0:
            return False
        full_chats = [chat for chat, load in self.chat_load.items() if load >= CHAT_QUEUE]
        async with self.db.transaction() as session:
            jobs = await service.claim_due(
                session,
                utcnow(),
                limit=room,
                exclude_ids=list(self.in_hand),
                full_chats=full_chats,
                per_chat=CHAT_QUEUE,
            )
        claimed_at = time.monotonic()
        if self.blocked_at:  # only rows claimed before a block need it: long gone by then
            self.blocked_at = {
                c: at for c, at in self.blocked_at.items() if claimed_at - at < BLOCKS_KEPT_SECONDS
            }
        for job in jobs:
            self.chat_load[job.chat_id] += 1
            self.in_hand[job.id] = asyncio.create_task(self._deliver(job, claimed_at))
        return len(jobs) >= room

    # ---- one notification -----------------------------------------------------------------

    async def _deliver(self, job: Job, claimed_at: float) -> None:
        try:
            await self._send(job, claimed_at)
        except Exception:
            # Left `sending`: due again when its claim lapses.
            log.exception("bot_notification_failed", notification_id=str(job.id))
        finally:
            self.in_hand.pop(job.id, None)
            self.chat_load[job.chat_id] -= 1
            if self.chat_load[job.chat_id] <= 0:
                del self.chat_load[job.chat_id]

    async def _send(self, job: Job, claimed_at: float) -> None:
        try:
            text = render(
                job.kind, job.params, client_language(job.app_language, job.language), code=job.code
            )
        except (KeyError, TypeError, ValueError) as exc:  # params the message cannot be made of
            outcome = Outcome(REJECTED, utcnow(), 0, error=f"cannot render: {exc!r}"[:ERROR_CHARS])
            await self._record(job, outcome)
            return
        priority = URGENT if job.urgent else NORMAL
        try:
            async with self.throttle.slot(job.chat_id, priority):
                if self._blocked(job, claimed_at):
                    await self._record_blocked(job)
                    return
                outcome = await call(lambda: self.api.send_message(job.chat_id, text))
                if outcome.retry_after is not None:
                    self.throttle.pause(outcome.retry_after, job.chat_id)
        except ThrottleClosed:  # stopping: never sent, back to pending
            async with self.db.transaction() as session:
                await service.release(session, [job.id], utcnow())
            return
        if outcome.result == BLOCKED_BY_USER:
            self.blocked_at[job.client_id] = time.monotonic()
        status = await self._record(job, outcome)
        log.info(
            "bot_notification",
            notification_id=str(job.id),
            kind=job.kind,
            attempt=job.attempt,
            status=status,
            outcome=outcome.attempt_outcome,
            ms=outcome.duration_ms,
        )

    def _blocked(self, job: Job, claimed_at: float) -> bool:
        at = self.blocked_at.get(job.client_id)
        return at is not None and at >= claimed_at

    async def _record(self, job: Job, outcome: Outcome) -> str:
        async def record() -> str:
            async with self.db.transaction() as session:
                return await service.record_send(session, job, outcome, utcnow())

        return await _retried(record)

    async def _record_blocked(self, job: Job) -> None:
        async def record() -> None:
            async with self.db.transaction() as session:
                await service.record_blocked(session, job)

        await _retried(record)

    # ---- deleting codes' messages ---------------------------------------------------------

    async def _deletions(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.delete_due()
            except Exception:
                log.exception("bot_deletions_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DELETE_EVERY_SECONDS)

    async def delete_due(self) -> int:
        """Delete the messages due for deletion (3-D Secure codes past their time)."""
        async with self.db.transaction() as session:
            due = await service.claim_deletions(session, utcnow(), limit=DELETE_BATCH)
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._delete(d) for d in due))
        async with self.db.transaction() as session:
            now = utcnow()
            for deletion, outcome in zip(due, outcomes, strict=True):
                await service.record_delete(session, deletion, outcome, now)
        return len(due)

    async def _delete(self, deletion: Deletion) -> Outcome:
        outcome = await call(lambda: self.api.delete_message(deletion.chat_id, deletion.message_id))
        if outcome.retry_after is not None:
            self.throttle.pause(outcome.retry_after)
        return outcome

    # ---- stopping -------------------------------------------------------------------------

    async def _stop(self, deletions: asyncio.Task[None]) -> None:
        """Waiting rows go back to pending; calls in flight finish and are recorded."""
        self.throttle.close()
        tasks = [*self.in_hand.values(), deletions]
        _done, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:  # a call that would not end: its row is put back at the next start
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


async def call(request: Callable[[], Awaitable[Any]]) -> Outcome:
    """One Bot API call, timed, and what came of it."""
    started, t0 = utcnow(), time.perf_counter()

    def done(result: str, **kw: Any) -> Outcome:
        return Outcome(result, started, int((time.perf_counter() - t0) * 1000), **kw)

    try:
        value = await request()
    except RetryLater as exc:
        return done(RETRY, retry_after=exc.retry_after, error=_text(exc), network=_no_answer(exc))
    except Blocked as exc:
        return done(BLOCKED_BY_USER, error=_text(exc))
    except Rejected as exc:
        return done(REJECTED, error=_text(exc))
    except Exception as exc:  # anything else from the HTTP layer: may succeed later
        return done(RETRY, error=_text(exc), network=True)
    return done(OK, message_id=value if isinstance(value, int) else None)


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def _no_answer(exc: RetryLater) -> bool:
    """A timeout or a connection that failed, rather than a server's 5xx answer (PTB names the
    HTTP layer's errors `httpx.<Error>` and raises TimedOut for timeouts)."""
    cause = exc.__cause__
    return type(cause).__name__ == "TimedOut" or "httpx." in str(exc)


async def _retried(record: Callable[[], Awaitable[T]]) -> T:
    """An outcome's transaction, tried again a few times (the database restarting): a row whose
    outcome is never recorded stays `sending` and would be sent again once its claim lapses."""
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            return await record()
        except Exception:
            if attempt == RECORD_TRIES:
                raise
            log.warning("bot_record_retry", attempt=attempt, exc_info=True)
            await asyncio.sleep(RECORD_RETRY_SECONDS)
    raise AssertionError("unreachable")
