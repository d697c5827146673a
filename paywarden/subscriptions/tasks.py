"""The subscriptions' worker pass: renew the periods that ended, retry unpaid ones (the rule is
`service.renew_due`)."""

from __future__ import annotations

from datetime import datetime

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.subscriptions import service


async def renew_due(db: Database, now: datetime | None = None) -> int:
    """One pass (every minute) in one transaction, SKIP LOCKED; returns the subscriptions
    charged."""
    async with db.transaction() as session:
        return await service.renew_due(session, now or utcnow())
