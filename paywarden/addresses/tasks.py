"""The deposit-address pool's worker pass: derive addresses until enough are free (the rule is
`service.top_up`)."""

from __future__ import annotations

from paywarden.addresses import service
from paywarden.addresses.service import Pool
from paywarden.kit.db import Database


async def top_up(db: Database, pool: Pool) -> int:
    """One pass (every 10 s) in one transaction; returns the addresses derived."""
    async with db.transaction() as session:
        return await service.top_up(session, pool)
