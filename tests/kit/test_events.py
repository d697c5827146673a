"""The event bus: handlers by type, one call per handler with its events in order, and no
event lost to a process that was never composed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden import subscribers
from paywarden.kit.events import Bus, NotComposed, bus

# The bus hands the session through untouched: any object stands for it here.
SESSION = cast(AsyncSession, object())


@dataclass(frozen=True)
class Happened:
    type: str
    n: int


def recorder(calls: list[tuple[str, list[int]]], name: str) -> Any:
    async def handle(session: AsyncSession, events: Sequence[Happened]) -> None:
        assert session is SESSION
        calls.append((name, [e.n for e in events]))

    return handle


def composed_bus() -> Bus:
    b = Bus()
    b.composed = True
    return b


async def test_each_handler_is_called_once_with_its_events_in_publishing_order() -> None:
    calls: list[tuple[str, list[int]]] = []
    b = composed_bus()
    both, only_b = recorder(calls, "both"), recorder(calls, "b")
    b.subscribe(both, "a", "b")
    b.subscribe(only_b, "b")
    await b.publish_all(SESSION, [Happened("a", 1), Happened("b", 2), Happened("c", 3)])
    assert calls == [("both", [1, 2]), ("b", [2])]


async def test_subscribing_twice_changes_nothing() -> None:
    calls: list[tuple[str, list[int]]] = []
    b = composed_bus()
    handler = recorder(calls, "h")
    b.subscribe(handler, "a")
    b.subscribe(handler, "a")
    await b.publish(SESSION, Happened("a", 1))
    assert calls == [("h", [1])]


async def test_nothing_to_publish_calls_nobody() -> None:
    b = Bus()  # not even composed: an empty batch is no event
    await b.publish_all(SESSION, [])


async def test_an_event_in_a_process_never_composed_is_an_error_not_a_loss() -> None:
    with pytest.raises(NotComposed, match=r"order\.confirmed"):
        await Bus().publish(SESSION, Happened("order.confirmed", 1))


def test_composing_the_process_twice_registers_each_handler_once() -> None:
    before = {t: bus.handlers(t) for t in ("order.confirmed", "webhook.delivered")}
    subscribers.compose()
    subscribers.compose()
    assert bus.composed
    for type_, handlers in before.items():
        assert bus.handlers(type_) == handlers
    assert len(bus.handlers("order.confirmed")) == 2  # the outbox and the top-ups
