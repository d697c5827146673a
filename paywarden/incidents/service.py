"""Reading incidents; they are written by the work that failed (webhooks, sweeps)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.incidents import repository
from paywarden.incidents.repository import IncidentRow


async def latest(
    db: AsyncSession, *, merchant_id: uuid.UUID | None = None, limit: int = 10
) -> Sequence[IncidentRow]:
    return await repository.latest(db, merchant_id=merchant_id, limit=limit)
