"""The orders' worker pass: expire pending orders past their time (the rule is
`service.expire_due`)."""

from __future__ import annotations

from paywarden.addresses.service import Pool
from paywarden.kit.db import Database
from paywarden.orders import service


async def expire_due(db: Database, pool: Pool, *, base_url: str) -> int:
    """One pass (every 5 s) in one transaction; returns the orders expired."""
    async with db.transaction() as session:
        return await service.expire_due(session, pool, base_url=base_url)
