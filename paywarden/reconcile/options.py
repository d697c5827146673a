"""What a run is given, and how it reads the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.config import Settings
from paywarden.context import network, scanner_config
from paywarden.kit.db import Database


@dataclass(frozen=True)
class Options:
    contract: str  # the USDT contract (base58)
    scanner_key: str  # the scanner_state row of this network and contract
    tolerance: int  # UNDERPAY_TOLERANCE as set now, in micro-USDT
    cold_wallet: str | None
    since: datetime | None = None


def options_for(settings: Settings, since: datetime | None = None) -> Options:
    """The run's options from the process's settings (every command reads the environment)."""
    return Options(
        contract=network(settings).usdt_contract,
        scanner_key=scanner_config(settings).key,
        tolerance=settings.underpay_tolerance_units,
        cold_wallet=settings.cold_wallet_address,
        since=since,
    )


def quiet(_: str, __: int) -> None:
    return None


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[AsyncSession]:
    """A short session for one page, always rolled back."""
    async with db.sessions() as session:
        try:
            yield session
        finally:
            session.expunge_all()  # the rows read stay readable after the rollback
            await session.rollback()  # read-only: nothing is ever committed


Fetch = Callable[[AsyncSession, Any], Awaitable[Sequence[Any]]]
Extra = Callable[[AsyncSession, Sequence[Any]], Awaitable[Any]]


def by_id(row: Any) -> Any:
    return row.id


async def pages(
    db: Database, fetch: Fetch, key: Callable[[Any], Any] = by_id, extra: Extra | None = None
) -> AsyncIterator[tuple[Sequence[Any], Any]]:
    """Keyset pages: `fetch(session, last)` reads the rows after `last` (None: from the start),
    `extra(session, rows)` what goes with them in the same short session; `key` is the next
    page's `last`. Memory holds one page."""
    last = None
    while True:
        async with reading(db) as session:
            rows = await fetch(session, last)
            more = await extra(session, rows) if extra is not None and rows else None
        if not rows:
            return
        yield rows, more
        last = key(rows[-1])
