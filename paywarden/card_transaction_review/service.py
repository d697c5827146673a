"""Card transactions for support and anti-fraud: the filtered list and the seed's breakdown
tabs (Merchants, Declines, MCC, Clients by volume, Clients by declines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transaction_review import repository as repo
from paywarden.card_transaction_review.repository import Dimension, Group, TxFilter, TxRow
from paywarden.kit.errors import InvalidQuery
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.time import utcnow
from paywarden.plans import repository as plans

# A breakdown without `from` covers this much, so a large table is never read whole by default.
DEFAULT_WINDOW = timedelta(days=30)
PAR_MICROS = 1_000_000  # 1 USD per EUR, to rank clients before any rate is set


def _ordered(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidQuery("Invalid query parameters: from is after to")


async def transactions(db: AsyncSession, f: TxFilter, q: PageQuery) -> Page[TxRow]:
    _ordered(f.since, f.until)
    rows, total = await repo.page(db, f, q.offset, q.limit)
    return Page(rows, q.page, q.limit, total)


@dataclass(frozen=True)
class Breakdown:
    since: datetime | None
    until: datetime | None
    groups: Sequence[Group]


async def breakdown(
    db: AsyncSession, by: Dimension, since: datetime | None, until: datetime | None, limit: int
) -> Breakdown:
    if since is None:
        since = (until or utcnow()) - DEFAULT_WINDOW
    _ordered(since, until)
    rate = await plans.latest_rate(db)
    micros = rate.eur_usd_micros if rate is not None else PAR_MICROS
    return Breakdown(since, until, await repo.breakdown(db, by, since, until, limit, micros))
