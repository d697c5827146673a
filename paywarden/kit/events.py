"""The in-process event bus: a package tells what happened; the packages that care react.

The rule (DESIGN.md, "Events, not call-backs"): a package whose state change others react to
publishes an event here instead of calling them; it never imports them. The reacting packages'
handlers are subscribed by event type in one place, `paywarden/subscribers.py`, when the app or
the worker is composed. `publish` calls every handler of the event's type at once, with the
publisher's session: a handler writes its consequence in the same database transaction and
never commits (the request or job that opened the transaction commits or rolls back all of it).
A handler's error is the publisher's error: the whole change rolls back.

Handlers take a batch (a sequence of events of the types they subscribed to), so a publisher
that changes many rows in one pass (the chain scanner, the webhook dispatcher) hands them over
in one call with `publish_all`, and a handler writes them in a few statements.

Events are plain frozen dataclasses owned by the publishing package, with a `type` (for order
events, the types merchants receive: `order.confirmed`, `order.expired`). This module knows no
domain: only types and handlers.

Publishing before the process is composed is an error, not a silent loss: an event without its
subscribers would drop a webhook or a wallet credit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Event(Protocol):
    @property
    def type(self) -> str: ...


Handler = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


class NotComposed(RuntimeError):
    """An event was published in a process whose subscribers were never registered."""


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self.composed = False

    def subscribe(self, handler: Handler, *types: str) -> None:
        """Call `handler` with the events of these types (once per type, however often asked)."""
        for type_ in types:
            handlers = self._handlers.setdefault(type_, [])
            if handler not in handlers:
                handlers.append(handler)

    def handlers(self, type_: str) -> list[Handler]:
        return list(self._handlers.get(type_, ()))

    async def publish(self, session: AsyncSession, event: Event) -> None:
        await self.publish_all(session, [event])

    async def publish_all(self, session: AsyncSession, events: Sequence[Event]) -> None:
        """Each handler of these events once, with its events in publishing order."""
        if not events:
            return
        if not self.composed:
            raise NotComposed(f"{events[0].type} published before the process was composed")
        batches: dict[Handler, list[Event]] = {}
        for event in events:
            for handler in self._handlers.get(event.type, ()):
                batches.setdefault(handler, []).append(event)
        for handler, batch in batches.items():
            await handler(session, batch)


# The process's bus: publishers and `paywarden/subscribers.py` share it.
bus = Bus()
publish = bus.publish
publish_all = bus.publish_all
