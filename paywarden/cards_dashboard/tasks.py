"""The dashboard's worker pass: recompute what active cards could still spend, so a request
finds the figure fresh (the rule is `service.refresh_exposure`)."""

from __future__ import annotations

from datetime import datetime

from paywarden.cards_dashboard import service
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow


async def refresh_exposure(db: Database, now: datetime | None = None) -> None:
    """One pass (every 50 s, within the figure's 60 s freshness) in one transaction."""
    async with db.transaction() as session:
        await service.refresh_exposure(session, now or utcnow())
