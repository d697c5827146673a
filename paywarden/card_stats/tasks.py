"""The rollup's worker pass: fold the writers' shards of settled buckets into one row each
(PostgreSQL; the rule is `service.compact`)."""

from __future__ import annotations

from datetime import datetime

from paywarden.card_stats import service
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow


async def compact(db: Database, now: datetime | None = None) -> int:
    """One pass (every 5 minutes) in one transaction; returns the rows folded."""
    async with db.transaction() as session:
        return await service.compact(session, now or utcnow())
