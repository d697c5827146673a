"""One `paywarden bot` per token: Telegram hands each update to one poller only (a second one
gets 409), and the outbox's sender must be alone to release what a dead one left `sending`.

PostgreSQL: a session-level advisory lock, keyed by the token's digest, held on a connection of
its own for the process's life; the server drops it when that connection ends, a SIGKILL
included. SQLite (one machine): an exclusive `flock` on a file under VAR_DIR, dropped by the
kernel when the process ends. A second process waits as a standby, trying again every few
seconds, and takes over when the first is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger

log = get_logger(__name__)

RETRY_SECONDS = 3.0


class Held(Protocol):
    async def check(self) -> None:
        """Raises when the lock may be lost (its connection broke): the process must stop."""

    async def release(self) -> None: ...


def advisory_key(bot_id: str) -> int:
    """The bot's 64-bit digest (`telegram.client.bot_id`) as PostgreSQL's signed bigint."""
    value = int(bot_id[:16], 16)
    return value - 2**64 if value >= 2**63 else value


class _AdvisoryLock:
    def __init__(self, conn: AsyncConnection, key: int) -> None:
        self.conn, self.key = conn, key

    async def check(self) -> None:
        await self.conn.execute(text("SELECT 1"))
        await self.conn.commit()

    async def release(self) -> None:
        with contextlib.suppress(Exception):  # a broken connection dropped the lock already
            await self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await self.conn.commit()
        with contextlib.suppress(Exception):
            await self.conn.close()


class _FileLock:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def check(self) -> None:
        return None  # held by this process until it closes the file or ends

    async def release(self) -> None:
        os.close(self.fd)  # closing drops the flock


async def _try_advisory(db: Database, key: int) -> Held | None:
    conn = await db.engine.connect()
    try:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar()
        await conn.commit()  # no transaction left open; the session-level lock stays
    except BaseException:
        await conn.close()
        raise
    if got:
        return _AdvisoryLock(conn, key)
    await conn.close()
    return None


def _try_flock(path: Path) -> Held | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # for a person looking: who holds it
    return _FileLock(fd)


async def acquire(
    db: Database,
    bot_id: str,
    var_dir: Path,
    stop: asyncio.Event,
    *,
    retry_seconds: float = RETRY_SECONDS,
) -> Held | None:
    """The bot's lock, waiting (standby) until it is free; None when `stop` is set first."""
    waiting = False
    while not stop.is_set():
        if db.is_sqlite:
            held = _try_flock(var_dir / f"bot-{bot_id}.lock")
        else:
            held = await _try_advisory(db, advisory_key(bot_id))
        if held is not None:
            if waiting:
                log.warning("bot_lock_taken_over", bot=bot_id)
            return held
        # Said at each try: a standby's log shows it is alive and why it does nothing.
        log.warning("bot_standby", bot=bot_id, reason="another process holds the bot's lock")
        waiting = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), retry_seconds)
    return None
