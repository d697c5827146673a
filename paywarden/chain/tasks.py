"""The scanner's pass, as the worker loop runs it: one leader, bounded work, one transaction
for what it writes."""

from __future__ import annotations

from paywarden.chain import repository as repo
from paywarden.chain import service
from paywarden.chain.config import ScannerConfig
from paywarden.chain.service import PassResult
from paywarden.kit.db import Database
from paywarden.orders.service import GatewayContext
from paywarden.tron.client import TronGridClient


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
