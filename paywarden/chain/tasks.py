"""The scanner's pass, as the worker loop runs it: one leader, bounded work, one transaction
for what it writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywarden.chain import repository as repo
from paywarden.chain import service
from paywarden.chain.config import ScannerConfig
from paywarden.chain.service import PassResult
from paywarden.kit.db import Database
from paywarden.tron.client import TronGridClient

if TYPE_CHECKING:  # the process's settings: only read here
    from paywarden.context import GatewayContext

# After a block is due, time for its producer's broadcast to reach TronGrid.
BLOCK_MARGIN_SECONDS = 0.3


async def scan_pass(
    db: Database, client: TronGridClient, cfg: ScannerConfig, gateway: GatewayContext
) -> PassResult | None:
    """One pass: None when another worker leads (PostgreSQL) or moved the cursor meanwhile.

    PostgreSQL: the whole pass runs in one transaction holding the scan advisory lock, so one
    worker scans and the others skip. SQLite (one worker): TronGrid is read outside any
    transaction, so the database's write lock is held only while the results are stored.
    """
    if db.is_sqlite:
        async with db.transaction() as session:
            p = await service.plan(session, cfg)
        fetched = await service.fetch(client, cfg, p)
        async with db.transaction() as session:
            return await service.apply(session, cfg, gateway, p, fetched)
    async with db.transaction() as session:
        if not await repo.try_lead(session):
            return None
        p = await service.plan(session, cfg)
        fetched = await service.fetch(client, cfg, p)
        return await service.apply(session, cfg, gateway, p, fetched)


def next_pass_in(result: PassResult | None, cfg: ScannerConfig, now: float) -> float:
    """Seconds until the next pass (`now` in Unix seconds).

    Behind the head: at once (a backfill runs at full speed). At the head: just after the next
    block is due, since a pass between blocks finds nothing and only spends a call; when the
    block is late, the block time is unknown, or another worker leads: SCAN_INTERVAL_SECONDS.
    """
    if result is not None and not result.caught_up:
        return 0.0
    if result is None or cfg.block_seconds is None or result.head_timestamp is None:
        return cfg.interval_seconds
    wait = result.head_timestamp / 1000 + cfg.block_seconds + BLOCK_MARGIN_SECONDS - now
    if wait <= 0:
        return cfg.interval_seconds
    return min(wait, cfg.block_seconds + BLOCK_MARGIN_SECONDS)  # a clock ahead of the chain's
