"""3-D Secure codes: what the client reads, their expiry, and the counts of the Risk / 3DS block.

A code arrives by webhook (`3ds.code`, see handlers), `pending` until the purchase it is for is
authorized (`used`), declined by the issuer for a failed 3-D Secure (`declined`), or its time
passes (`expired`, by the worker's `expire_due`). The code is never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import repository as repo
from paywarden.models import Code3ds

RECENT = timedelta(days=1)  # what the client's app lists
RECENT_LIMIT = 20


async def for_client(db: AsyncSession, client_id: uuid.UUID, now: datetime) -> Sequence[Code3ds]:
    """The client's codes of the last day, newest first (at most RECENT_LIMIT)."""
    return await repo.client_codes(db, client_id, now - RECENT, RECENT_LIMIT)


async def expire_due(db: AsyncSession, now: datetime) -> int:
    """Pending codes past their expiry become `expired`."""
    return await repo.expire_codes(db, now)


@dataclass(frozen=True)
class CodeStats:
    requests_today: int
    requests_7d: int
    # used / (used + declined + expired) among the week's codes, in percent; None when none
    # was decided yet (pending ones wait).
    approval_rate_7d: Decimal | None
    expired_7d: int


def _start_of_day(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def stats(
    db: AsyncSession, client_id: uuid.UUID | None, now: datetime, tz: tzinfo = UTC
) -> CodeStats:
    """The seed's "Risk / 3DS" counts, for one client or (None) for all: "today" is the report
    time zone's day, the week the last 7 x 24 h."""
    today = await repo.code_counts(db, _start_of_day(now, tz), client_id)
    week = await repo.code_counts(db, now - timedelta(days=7), client_id)
    decided = week.get("used", 0) + week.get("declined", 0) + week.get("expired", 0)
    rate = None
    if decided:
        rate = (Decimal(week.get("used", 0) * 100) / decided).quantize(Decimal("0.1"))
    return CodeStats(
        requests_today=sum(today.values()),
        requests_7d=sum(week.values()),
        approval_rate_7d=rate,
        expired_7d=week.get("expired", 0),
    )
