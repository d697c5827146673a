"""Telegram's sending limits, kept in this process: at most 30 messages a second in all, at
most one a second to any one chat. One bot process runs per token (the runner holds a lock), so
the one place that counts its sends is here.

    async with throttle.slot(chat_id, URGENT):
        await api.send_message(chat_id, text)

A slot is held for the call: it counts towards the limits from when it is given until one
second after the call returned. Counting from the return, not the start, keeps the limits as
Telegram's server sees them whatever the network's delays: a message that arrives late cannot
land within a second of the next. Waiters are served by priority (a 3-D Secure code before a
top-up's news), then in order; a waiter whose chat is busy never holds back another chat's.

`pause` stops sending after a 429: Telegram's `retry_after` applies to the bot, so to everyone,
and the chat it was sent to waits at least as long.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

PER_SECOND = 30
CHAT_INTERVAL = 1.0
# A hair over Telegram's second, for the difference between our clock and its.
MARGIN = 0.01
URGENT = 0  # a 3-D Secure code
NORMAL = 1
# Chats' next-allowed times are forgotten once past, when there are this many.
PRUNE_AT = 10_000


class ThrottleClosed(Exception):
    """The sender is stopping: no more slots are given."""


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat_id: int = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class Throttle:
    def __init__(self, per_second: int = PER_SECOND, chat_interval: float = CHAT_INTERVAL):
        self.per_second = per_second
        self.window = 1.0 + MARGIN
        self.chat_interval = chat_interval + MARGIN
        self._in_flight = 0
        self._finished: deque[float] = deque()  # when each call of the last second returned
        self._busy: set[int] = set()  # chats with a call in flight
        self._chat_free_at: dict[int, float] = {}
        self._paused_until = 0.0
        self._waiters: list[_Waiter] = []  # kept sorted: priority, then arrival
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @asynccontextmanager
    async def slot(self, chat_id: int, priority: int = NORMAL) -> AsyncIterator[None]:
        """Wait for this chat's turn, and hold it for the block."""
        await self._acquire(chat_id, priority)
        try:
            yield
        finally:
            self._release(chat_id)

    def pause(self, seconds: float, chat_id: int | None = None) -> None:
        """Send nothing for `seconds` (a 429's retry_after), to `chat_id` at least as long."""
        until = self._now() + seconds
        self._paused_until = max(self._paused_until, until)
        if chat_id is not None:
            self._chat_free_at[chat_id] = max(self._chat_free_at.get(chat_id, 0.0), until)
        self._pump()

    def close(self) -> None:
        """Give no more slots: every waiter gets ThrottleClosed."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(ThrottleClosed())
        self._waiters.clear()
        if self._timer is not None:
            self._timer.cancel()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    # ---- inside ---------------------------------------------------------------------------

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _acquire(self, chat_id: int, priority: int) -> None:
        if self._closed:
            raise ThrottleClosed()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._seq), chat_id, future)
        # Sorted insert (a waiter's key only grows, so new ones of a priority go last).
        index = len(self._waiters)
        while index and self._waiters[index - 1] > waiter:
            index -= 1
        self._waiters.insert(index, waiter)
        self._pump()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # given, then cancelled: give it back
                self._release(chat_id)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self, chat_id: int) -> None:
        now = self._now()
        self._in_flight -= 1
        self._finished.append(now)
        self._busy.discard(chat_id)
        free_at = max(self._chat_free_at.get(chat_id, 0.0), now + self.chat_interval)
        self._chat_free_at[chat_id] = free_at
        self._pump()

    def _pump(self) -> None:
        """Give every slot that can be given now; set a timer for the next one that will."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed:
            return
        now = self._now()
        while self._finished and self._finished[0] + self.window <= now:
            self._finished.popleft()
        if len(self._chat_free_at) > PRUNE_AT:
            self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}
        wake: float | None = None
        if now < self._paused_until:
            wake = self._paused_until
        else:
            for waiter in list(self._waiters):
                if waiter.future.done():  # cancelled meanwhile
                    self._waiters.remove(waiter)
                    continue
                if self._in_flight + len(self._finished) >= self.per_second:
                    if self._finished:  # else a call in flight frees a place when it returns
                        wake = _earliest(wake, self._finished[0] + self.window)
                    break
                chat = waiter.chat_id
                if chat in self._busy:
                    continue  # its call's return gives the next turn
                free_at = self._chat_free_at.get(chat, 0.0)
                if free_at > now:
                    wake = _earliest(wake, free_at)
                    continue
                self._waiters.remove(waiter)
                self._in_flight += 1
                self._busy.add(chat)
                waiter.future.set_result(None)
        if wake is not None and self._waiters:
            self._timer = asyncio.get_running_loop().call_at(wake, self._pump)


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
