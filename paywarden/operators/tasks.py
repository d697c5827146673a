"""The operators' housekeeping pass: forget sessions and 2FA setups long ended (the rule is
`service.purge_expired`)."""

from __future__ import annotations

from paywarden.kit.db import Database
from paywarden.operators import service


async def purge_expired(db: Database) -> int:
    """One pass (hourly) in one transaction; returns the sessions purged."""
    async with db.transaction() as session:
        return await service.purge_expired(session)
