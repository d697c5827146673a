"""`paywarden bot`: the bot's process. It checks the token (getMe), takes the one-bot-per-token
lock (or waits for it as a standby), then runs side by side until SIGTERM:

- the updates: long polling (getUpdates, each batch confirmed by the next call's offset), or
  webhook mode when TELEGRAM_WEBHOOK_URL is set (`bot/webhook.py`); each update handled in its
  own transaction (`bot/commands.py`), the replies sent after the commit, an update id seen
  twice handled once;
- the outbox's sender (`bot/sender.py`), after putting back what a dead process left `sending`
  (safe: the lock says no other sender runs);
- a heartbeat row every few seconds (the console's health block reads it).

The token never reaches a log line: errors are logged with it scrubbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from collections.abc import Awaitable, Coroutine
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from paywarden import subscribers
from paywarden.bot import commands, lock, sender
from paywarden.bot.commands import BotContext, Reply
from paywarden.bot.throttle import URGENT, Throttle, ThrottleClosed
from paywarden.bot.webhook import server_for, webhook_app
from paywarden.config import ConfigError, Settings
from paywarden.context import database, gateway_context
from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.notifications import service as notifications
from paywarden.telegram.client import (
    BotApi,
    BotApiError,
    Incoming,
    Rejected,
    RetryLater,
    bot_id,
    secret_of,
)
from paywarden.topups import service as topups

log = get_logger(__name__)
T = TypeVar("T")

HEARTBEAT_SECONDS = 10.0
POLL_TIMEOUT = 25  # seconds a getUpdates waits for an update (Telegram allows up to 50)
RETRY_SECONDS = 3.0  # after a failed Bot API call that did not say how long to wait
REMEMBERED_UPDATES = 10_000  # update ids kept to answer a repeated one only once
SENDER_STOP_SECONDS = 20.0  # the sender's in-flight sends finish (or are released) in this


class BotProcess:
    """One running bot: its API, database, lock and loops (`run` until `stop` is set)."""

    def __init__(self, settings: Settings, token: str, api: BotApi, db: Database) -> None:
        self.settings = settings
        self.token = token
        self.api = api
        self.db = db
        self.identity = bot_id(token)
        self.mode = "webhook" if settings.telegram_webhook_url else "polling"
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = utcnow()
        self.last_update_at: datetime | None = None
        self.last_error: str | None = None
        self.ctx = BotContext(gateway_context(settings), settings.public_base_url)
        # Telegram's limits count the replies and the notifications together.
        self.throttle = Throttle()
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()

    def safe(self, exc: BaseException) -> str:
        """An error's text without the token (a URL in a network error may carry it)."""
        return str(exc).replace(self.token, "[token]")[:500]

    # ---- the loops -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, held: lock.Held) -> None:
        await self.beat()
        released = await sender.release_orphans(self.db)
        log.info(
            "bot_started",
            bot=self.identity,
            username=self.api.username,
            mode=self.mode,
            released=released,
        )
        loops = [
            asyncio.create_task(self.heartbeat(stop, held), name="bot-heartbeat"),
            asyncio.create_task(
                sender.run_sender(self.db, self.api, stop, throttle=self.throttle),
                name="bot-sender",
            ),
            asyncio.create_task(
                self.webhook(stop) if self.mode == "webhook" else self.poll(stop),
                name="bot-updates",
            ),
        ]
        try:
            # Any loop ending by itself (an error) stops the others: the supervisor restarts us.
            await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            done, pending = await asyncio.wait(loops, timeout=SENDER_STOP_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            failed = [t for t in done if not t.cancelled() and t.exception() is not None]
            for task in failed:
                error = self.safe(task.exception())  # type: ignore[arg-type]
                log.error("bot_loop_failed", loop=task.get_name(), error=error)
            if failed:  # exit non-zero: whoever supervises the process starts it again
                raise RuntimeError("a loop of the bot failed (logged above)")

    async def heartbeat(self, stop: asyncio.Event, held: lock.Held) -> None:
        while not await _stopped(stop, HEARTBEAT_SECONDS):
            try:
                await held.check()
            except Exception as exc:  # the lock's connection broke: the lock may be gone
                raise RuntimeError(f"the bot's lock may be lost: {self.safe(exc)}") from None
            try:
                await self.beat()
            except Exception as exc:
                log.warning("bot_heartbeat_failed", error=self.safe(exc))

    async def beat(self) -> None:
        async with self.db.transaction() as session:
            await notifications.heartbeat(
                session,
                bot_id=self.identity,
                username=self.api.username,
                mode=self.mode,
                holder=self.holder,
                started_at=self.started_at,
                now=utcnow(),
                last_update_at=self.last_update_at,
                last_error=self.last_error,
            )

    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling. getUpdates answers 409 while a webhook is set: drop it first."""
        await self.call_until_done(stop, self.api.delete_webhook)
        offset: int | None = None
        while not stop.is_set():
            try:
                updates = await _unless_stopped(stop, self.api.get_updates(offset))
            except Exception as exc:  # a Bot API error, or an answer PTB cannot read
                await self.failed("bot_poll_failed", exc, stop)
                continue
            for update in updates or ():
                await self.handle(update)
                offset = update.update_id + 1  # confirmed by the next getUpdates

    async def webhook(self, stop: asyncio.Event) -> None:
        url = self.settings.telegram_webhook_url or ""
        configured = self.settings.telegram_webhook_secret
        secret = configured.get_secret_value() if configured else secret_of(self.token)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        app = webhook_app(urlsplit(url).path, secret, queue.put_nowait)
        server = server_for(app, self.settings.telegram_webhook_listen)
        serving = asyncio.create_task(server.serve(), name="bot-webhook-server")
        try:
            while not server.started:  # listening before Telegram is told to post here
                if serving.done():
                    raise RuntimeError(f"cannot listen on {self.settings.telegram_webhook_listen}")
                await asyncio.sleep(0.02)
            await self.call_until_done(stop, lambda: self.api.set_webhook(url, secret))
            log.info("bot_webhook_set", listen=self.settings.telegram_webhook_listen)
            while not stop.is_set():
                data = await _unless_stopped(stop, queue.get())
                if data is None:
                    break
                await self.handle_posted(data)
        finally:
            server.should_exit = True  # no new update is taken; those in flight are queued
            await serving
        # Telegram had its 200 for what is queued: answer it before leaving, not never.
        while not queue.empty():
            await self.handle_posted(queue.get_nowait())

    async def handle_posted(self, data: dict[str, Any]) -> None:
        try:
            update = self.api.parse(data)
        except Exception as exc:  # not an update PTB can read: nothing to answer
            log.warning("bot_update_unreadable", error=self.safe(exc))
            return
        await self.handle(update)

    # ---- one update ------------------------------------------------------------------------

    def first_time(self, update_id: int) -> bool:
        if update_id in self._seen:
            return False
        self._seen.add(update_id)
        self._seen_order.append(update_id)
        if len(self._seen_order) > REMEMBERED_UPDATES:
            self._seen.discard(self._seen_order.popleft())
        return True

    async def handle(self, update: Incoming) -> None:
        if not self.first_time(update.update_id):
            return
        self.last_update_at = utcnow()
        replies: list[Reply] = []
        try:
            async with self.db.transaction() as session:
                replies = await commands.handle(session, self.ctx, update)
        except Exception as exc:  # a bug or the database: the client gets no answer, we a log
            self.last_error = self.safe(exc)
            log.exception("bot_update_failed", update_id=update.update_id)
        if update.callback_id is not None:
            with contextlib.suppress(BotApiError):
                await self.api.answer_callback(update.callback_id)
        if update.chat_id is not None:
            for reply in replies:
                await self.send(update.chat_id, reply)

    async def send(self, chat_id: int, reply: Reply) -> None:
        """A reply, tried again once when Telegram asks to wait (a short wait: a person is
        waiting for it); given up otherwise (a blocked bot, a refused message)."""
        for attempt in (1, 2):
            try:
                try:
                    async with self.throttle.slot(chat_id, URGENT):  # someone is waiting
                        await self.deliver(chat_id, reply)
                except ThrottleClosed:  # stopping: the last replies go without waiting
                    await self.deliver(chat_id, reply)
                return
            except RetryLater as exc:
                if attempt == 2:
                    self.last_error = self.safe(exc)
                    log.warning("bot_reply_failed", chat_id=chat_id, error=self.last_error)
                    return
                wait = min(exc.retry_after or 1.0, 5.0)
                self.throttle.pause(wait, chat_id)
            except BotApiError as exc:
                self.last_error = self.safe(exc)
                log.warning("bot_reply_failed", chat_id=chat_id, error=self.last_error)
                return

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        buttons = reply.buttons or None
        if reply.photo is not None:
            await self.api.send_photo(chat_id, reply.photo, reply.text, buttons)
        else:
            await self.api.send_message(chat_id, reply.text, buttons)

    # ---- failures --------------------------------------------------------------------------

    async def failed(self, event: str, exc: Exception, stop: asyncio.Event) -> None:
        self.last_error = self.safe(exc)
        log.warning(event, error=self.last_error)
        wait = exc.retry_after if isinstance(exc, RetryLater) and exc.retry_after else None
        await _stopped(stop, wait or RETRY_SECONDS)

    async def call_until_done(self, stop: asyncio.Event, call: Any) -> None:
        """A setup call (deleteWebhook, setWebhook), tried again until it goes through."""
        while not stop.is_set():
            try:
                await call()
                return
            except BotApiError as exc:
                await self.failed("bot_setup_failed", exc, stop)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, T]) -> T | None:
    """`work`'s result, or None (work cancelled) when `stop` is set first: a long poll is not
    waited for at shutdown, while an update being handled always is (it is not in here)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, BotApiError):
        await task
    return None


async def open_api(api: BotApi, stop: asyncio.Event, safe: Any) -> str | None:
    """getMe until it answers: a refused token is a configuration error (exit 2), an
    unreachable Bot API is waited for. None when stopped first."""
    while not stop.is_set():
        try:
            return await api.open()
        except Rejected as exc:
            raise ConfigError(
                "the Bot API refused TELEGRAM_BOT_TOKEN (getMe): check the token from BotFather"
            ) from exc
        except RetryLater as exc:
            log.warning("bot_api_unreachable", error=safe(exc), retry_in=RETRY_SECONDS)
            await _stopped(stop, exc.retry_after or RETRY_SECONDS)
    return None


async def run_bot(
    settings: Settings, stop: asyncio.Event, *, poll_timeout: int = POLL_TIMEOUT
) -> None:
    """`paywarden bot` until `stop` is set. ConfigError: no token, or a token Telegram refuses.
    `poll_timeout`: the seconds a long poll waits for updates."""
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: the bot needs its token (BotFather)")
    token = settings.telegram_bot_token.get_secret_value()
    api = BotApi(token, settings.telegram_api_url, poll_timeout=poll_timeout)
    db = database(settings)
    bot = BotProcess(settings, token, api, db)
    subscribers.compose()  # the services publish events (a top-up made here, say)
    try:
        if await open_api(api, stop, bot.safe) is None:
            return
        async with db.transaction() as session:  # top-ups need the internal merchant
            await topups.prepare(session, settings)
        held = await lock.acquire(db, bot.identity, settings.var_dir, stop)
        if held is None:
            return
        try:
            await bot.run(stop, held)
        finally:
            await held.release()
    finally:
        await _quietly(api.close())
        await db.dispose()
        log.info("bot_stopped", bot=bot.identity)


async def _quietly(work: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):
        await work
