"""The throttle on its own: one a second per chat, N a second in all, codes first, 429 pauses."""

from __future__ import annotations

import asyncio

import pytest

from paywarden.bot.throttle import NORMAL, URGENT, Throttle, ThrottleClosed


async def _send_all(throttle: Throttle, chats: list[int], priority: int = NORMAL) -> list[float]:
    """Each chat's slot taken and returned at once; when each was given (loop time)."""
    loop = asyncio.get_running_loop()
    given: list[float] = [0.0] * len(chats)

    async def one(i: int, chat: int) -> None:
        async with throttle.slot(chat, priority):
            given[i] = loop.time()

    await asyncio.gather(*(one(i, chat) for i, chat in enumerate(chats)))
    return given


async def test_one_a_second_per_chat() -> None:
    given = await _send_all(Throttle(), [1, 1, 1, 2])
    first, second, third, other = given
    assert second - first >= 1.0
    assert third - second >= 1.0
    assert other - first < 0.1  # another chat does not wait


async def test_at_most_n_a_second_in_all() -> None:
    given = sorted(await _send_all(Throttle(per_second=5), list(range(12))))
    assert given[4] - given[0] < 0.1
    assert given[5] - given[0] >= 1.0  # the sixth waits for the first second to pass
    assert given[10] - given[5] >= 1.0
    for i in range(len(given) - 5):  # never more than 5 in a second
        assert given[i + 5] - given[i] >= 1.0


async def test_a_code_goes_before_the_waiting_ones() -> None:
    throttle = Throttle(per_second=2)
    loop = asyncio.get_running_loop()
    order: list[str] = []

    async def send(name: str, chat: int, priority: int) -> None:
        async with throttle.slot(chat, priority):
            order.append(name)

    backlog = [asyncio.create_task(send(f"n{i}", i, NORMAL)) for i in range(6)]
    await asyncio.sleep(0.1)  # two went out, four wait
    started = loop.time()
    await send("code", 100, URGENT)
    assert order[:3] == ["n0", "n1", "code"]
    assert loop.time() - started < 1.2  # at the next free place, not after the backlog
    await asyncio.gather(*backlog)


async def test_a_pause_holds_everyone() -> None:
    throttle = Throttle()
    loop = asyncio.get_running_loop()
    throttle.pause(1.5, chat_id=1)
    started = loop.time()
    given = await _send_all(throttle, [1, 2])
    assert min(given) - started >= 1.5


async def test_closing_releases_the_waiters() -> None:
    throttle = Throttle()
    async with throttle.slot(1):
        waiter = asyncio.create_task(_send_all(throttle, [1]))
        await asyncio.sleep(0.05)
        throttle.close()
        with pytest.raises(ThrottleClosed):
            await waiter
    with pytest.raises(ThrottleClosed):
        await _send_all(throttle, [2])


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    throttle = Throttle(per_second=1)
    async with throttle.slot(1):
        cancelled = asyncio.create_task(_send_all(throttle, [2]))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert throttle.waiting == 0
    given = await _send_all(throttle, [3])
    assert given
