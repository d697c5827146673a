"""Real `paywarden worker` processes for the tests that kill and restart one, the worker's own
runner in the test's event loop for the tests that only need its loops, and a poll helper that
shows the workers' output when it gives up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from paywarden.config import Settings
from paywarden.worker import run_worker
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_XPUB

PAYWARDEN = str(Path(sys.executable).with_name("paywarden"))


async def start_worker(
    database_url: str, trongrid_url: str, log: Path, **settings: str
) -> asyncio.subprocess.Process:
    """A worker on the test database, its output appended to `log`; `settings` add to or
    override its environment (e.g. SCAN_INTERVAL_SECONDS="0.1")."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENV": "development",
        "XPUB": TEST_XPUB,
        "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,  # the test app's: they share encrypted rows
        "DEMO_DATA": "false",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "TRON_NETWORK": "devnet",
        "TRONGRID_URL": trongrid_url,
        "ADDRESS_POOL_MIN_FREE": "1",
        **settings,
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            PAYWARDEN, "worker", stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env
        )


@contextlib.asynccontextmanager
async def worker_loops(settings: Settings) -> AsyncIterator[None]:
    """What `paywarden worker` runs (`run_worker`), in this event loop until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await task


def tail(log: Path) -> str:
    return log.read_text()[-4000:]


async def until(
    condition: Callable[[], Awaitable[bool]], within: float, what: str, log: Path
) -> None:
    """Poll `condition` until it holds; fail after `within` seconds, showing the workers' output."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await condition():
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}; worker output:\n{tail(log)}")
