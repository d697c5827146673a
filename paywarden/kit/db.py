"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from paywarden.kit.crypto import KeySet

SQLITE_BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class PoolOptions:
    """The connection pool of each PostgreSQL engine this process makes (SQLAlchemy's defaults)."""

    size: int = 5
    max_overflow: int = 10
    pre_ping: bool = True
    timeout: float = 30.0  # seconds a request waits for a connection before 503 SERVICE_BUSY


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_no_implicit_begin(dbapi_conn: Any, _: Any) -> None:
    dbapi_conn.isolation_level = None


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock when the transaction starts: a read that later writes can then never
    # fail with SQLITE_BUSY because another writer committed in between (WAL snapshot rule).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, pool: PoolOptions | None = None, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_no_implicit_begin)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    options = pool or PoolOptions()
    if "poolclass" not in kwargs:  # a caller's NullPool or StaticPool takes no sizes
        kwargs.setdefault("pool_size", options.size)
        kwargs.setdefault("max_overflow", options.max_overflow)
        kwargs.setdefault("pool_timeout", options.timeout)
    kwargs.setdefault("pool_pre_ping", options.pre_ping)
    return create_async_engine(url, **kwargs)


class Database:
    """The engine and its session factory; one per app or worker process."""

    def __init__(
        self,
        url: str,
        pool: PoolOptions | None = None,
        *,
        keyset: KeySet | None = None,
        **engine_kwargs: Any,
    ) -> None:
        from paywarden.kit.crypto import SESSION_KEY

        self.url = url
        self.engine = make_engine(url, pool, **engine_kwargs)
        # The secrets-at-rest key set rides in each session's info (kit/crypto.keys_of).
        self.keyset = keyset
        info = {SESSION_KEY: keyset} if keyset is not None else {}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, info=info)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block ends and rolls back on error."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
