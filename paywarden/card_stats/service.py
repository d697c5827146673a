"""Reading the cards rollup by day in the report time zone, and keeping it compact.

Days are cut in the report zone: the span is split where the zone's offset changes (summer
time), and within each piece a bucket's local day is plain arithmetic. Buckets are 15 minutes,
so a day in any real zone (offsets like +05:30 and +05:45 included) is a whole number of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_stats import repository as repo
from paywarden.card_stats.repository import Segment
from paywarden.card_stats.sql import BUCKET_SECONDS, MEASURES
from paywarden.models.ledger import WALLET_CURRENCIES

EPOCH = date(1970, 1, 1)
FOLD_AFTER = timedelta(hours=1)  # shards of a bucket older than this are folded into one row
FOLD_BATCH = 5_000
STOCK = ("cards_active", "cards_active_limit", "pending_amount", "pending_count")
FLOWS = tuple(m for m in MEASURES if m not in STOCK)

Figures = dict[str, int]  # measure -> value


@dataclass(frozen=True)
class Day:
    day: date
    by_currency: dict[str, Figures]  # every wallet currency present, zero-filled

    def total(self, measure: str) -> int:
        return sum(f[measure] for f in self.by_currency.values())


def local_midnight(day: date, tz: ZoneInfo) -> int:
    """The UTC epoch second at which `day` starts in `tz`."""
    return int(datetime.combine(day, time(), tzinfo=tz).timestamp())


def _offset(moment: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(moment, UTC).astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def segments(tz: ZoneInfo, first: date, last: date) -> list[Segment]:
    """[first, last] in `tz` as UTC pieces of constant offset."""
    out: list[Segment] = []

    def add(start: int, end: int, offset: int) -> None:
        if out and out[-1].offset == offset and out[-1].end == start:
            out[-1] = Segment(out[-1].start, end, offset)
        else:
            out.append(Segment(start, end, offset))

    day = first
    start = local_midnight(first, tz)
    while day <= last:
        end = local_midnight(day + timedelta(days=1), tz)
        offset = _offset(start, tz)
        if _offset(end - 1, tz) != offset:  # the zone changes its offset during this day
            change = start
            while _offset(change, tz) == offset:
                change += BUCKET_SECONDS
            add(start, change, offset)
            start, offset = change, _offset(change, tz)
        add(start, end, offset)
        start, day = end, day + timedelta(days=1)
    return out


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


async def days(
    db: AsyncSession, tz: ZoneInfo, first: date, last: date, measures: Sequence[str] = FLOWS
) -> list[Day]:
    """One entry per day from `first` to `last` (oldest first), zeros where nothing happened."""
    found = await repo.sums_by_day(db, segments(tz, first, last), measures)
    out = []
    day = first
    while day <= last:
        number = (day - EPOCH).days
        by_currency = {}
        for currency in WALLET_CURRENCIES:
            values = found.get((number, currency), {})
            by_currency[currency] = {m: int(values.get(m, 0)) for m in measures}
        out.append(Day(day, by_currency))
        day += timedelta(days=1)
    return out


async def stock(db: AsyncSession) -> dict[str, Figures]:
    """Active cards, their limits, and authorizations awaiting settlement, per currency."""
    found = await repo.stock(db, STOCK)
    return {c: found.get(c, dict.fromkeys(STOCK, 0)) for c in WALLET_CURRENCIES}


async def spend_over_days(
    db: AsyncSession, tz: ZoneInfo, now: datetime, days_back: int
) -> dict[str, int]:
    """Card spend (approved purchases at the settled amount once settled, less refunds) per
    currency over today and the `days_back - 1` days before, in the report zone."""
    today = local_day(now, tz)
    rows = await days(db, tz, today - timedelta(days=days_back - 1), today, ("spend_amount",))
    return {c: sum(d.by_currency[c]["spend_amount"] for d in rows) for c in WALLET_CURRENCIES}


async def rebuild(db: AsyncSession) -> None:
    """Recompute the rollup from the rows (after a bulk load, or as a check)."""
    await repo.rebuild(db)


async def compact(db: AsyncSession, now: datetime) -> int:
    """Fold writers' shards of settled buckets into one row each; returns the rows folded."""
    if db.bind.dialect.name != "postgresql":
        return 0
    before = int((now - FOLD_AFTER).timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return await repo.fold_shards(db, before, FOLD_BATCH)


async def as_stored(db: AsyncSession) -> dict[tuple[int, str], Figures]:
    """Every bucket's figures as the triggers left them (shards summed, zero rows left out)."""
    return await repo.all_rows(db)


def differences(
    kept: dict[tuple[int, str], Figures], rebuilt: dict[tuple[int, str], Figures]
) -> list[str]:
    """One line per bucket and measure where the kept rollup and a rebuild disagree."""
    lines = []
    for key in sorted(kept.keys() | rebuilt.keys()):
        a, b = kept.get(key, {}), rebuilt.get(key, {})
        for m in MEASURES:
            if a.get(m, 0) != b.get(m, 0):
                bucket, currency = key
                when = "stock" if bucket == 0 else datetime.fromtimestamp(bucket, UTC).isoformat()
                lines.append(f"{when} {currency} {m}: kept {a.get(m, 0)}, rows say {b.get(m, 0)}")
    return lines
