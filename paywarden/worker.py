"""Background loops. `paywarden worker` runs them; the embedded `serve` runs them in-process.

Each loop does one bounded pass in its own transaction, then sleeps; an error is logged and the
loop carries on at its next tick, so one bad pass never stops the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.operators import service as operators

log = get_logger(__name__)


@dataclass(frozen=True)
class Loop:
    name: str
    interval_seconds: float
    run_once: Callable[[Database], Awaitable[object]]


async def _purge_operator_sessions(db: Database) -> int:
    async with db.transaction() as session:
        return await operators.purge_expired(session)


LOOPS: list[Loop] = [Loop("operator_session_purge", 3600, _purge_operator_sessions)]


async def _run(loop: Loop, db: Database, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            result = await loop.run_once(db)
            log.debug("loop_pass", loop=loop.name, result=result)
        except Exception:
            log.exception("loop_failed", loop=loop.name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=loop.interval_seconds)


async def run_loops(db: Database, stop: asyncio.Event, loops: list[Loop] | None = None) -> None:
    await asyncio.gather(*(_run(loop, db, stop) for loop in loops or LOOPS))
