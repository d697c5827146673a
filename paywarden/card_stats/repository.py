"""All SQL on the `card_stats` rollup: sums by local day, the stock row, rebuild, compaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_stats import sql
from paywarden.models import CardStats

DAY_SECONDS = 86_400
S = CardStats


@dataclass(frozen=True)
class Segment:
    """UTC epoch seconds [start, end) over which the report zone's offset stays `offset`."""

    start: int
    end: int
    offset: int


def _columns(names: Sequence[str]) -> list[Any]:
    return [func.coalesce(func.sum(getattr(S, m)), 0).label(m) for m in names]


async def sums_by_day(
    session: AsyncSession, segments: Sequence[Segment], measures: Sequence[str]
) -> dict[tuple[int, str], dict[str, int]]:
    """(local epoch day, currency) -> measure -> sum, over the segments' buckets. The day is
    integer arithmetic on the bucket, so both databases group in SQL without a zone database."""
    out: dict[tuple[int, str], dict[str, int]] = {}
    for seg in segments:
        day = ((S.bucket + seg.offset) // DAY_SECONDS).label("day")
        query = (
            select(day, S.currency, *_columns(measures))
            .where(S.bucket >= seg.start, S.bucket < seg.end)
            .group_by(day, S.currency)
        )
        for row in (await session.execute(query)).mappings():
            into = out.setdefault((int(row["day"]), row["currency"]), defaultdict(int))
            for m in measures:
                into[m] += int(row[m])
    return out


async def stock(session: AsyncSession, measures: Sequence[str]) -> dict[str, dict[str, int]]:
    """Currency -> the stock figures (bucket 0, shards summed)."""
    query = (
        select(S.currency, *_columns(measures))
        .where(S.bucket == sql.STOCK_BUCKET)
        .group_by(S.currency)
    )
    return {
        row["currency"]: {m: int(row[m]) for m in measures}
        for row in (await session.execute(query)).mappings()
    }


async def all_rows(session: AsyncSession) -> dict[tuple[int, str], dict[str, int]]:
    """(bucket, currency) -> every measure, shards summed, all-zero rows left out (a check)."""
    query = select(S.bucket, S.currency, *_columns(sql.MEASURES)).group_by(S.bucket, S.currency)
    out = {}
    for row in (await session.execute(query)).mappings():
        values = {m: int(row[m]) for m in sql.MEASURES}
        if any(values.values()):
            out[(int(row["bucket"]), row["currency"])] = values
    return out


async def rebuild(session: AsyncSession) -> None:
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        # Writers' triggers wait until the rebuild commits, then add their deltas on top; the
        # rebuild's reads see every write committed before it (SQLite has one writer anyway).
        await session.execute(text("LOCK TABLE card_stats IN EXCLUSIVE MODE"))
    for statement in sql.rebuild(dialect):
        await session.execute(text(statement))


def _upsert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(S)
    return statement.on_conflict_do_update(
        index_elements=["bucket", "currency", "shard"],
        set_={m: getattr(S.__table__.c, m) + getattr(statement.excluded, m) for m in sql.MEASURES},
    )


async def fold_shards(session: AsyncSession, before_bucket: int, limit: int) -> int:
    """Move up to `limit` shard rows (other than 0) of buckets before `before_bucket`, and of
    the stock row, into shard 0. Delete-returning then add: a writer's late delta lands in a
    new shard row, never in one being folded (PostgreSQL only; SQLite writes shard 0)."""
    picked = (
        select(S.bucket, S.currency, S.shard)
        .where(S.shard != 0, S.bucket < before_bucket)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    removed = await session.execute(
        delete(S)
        .where(tuple_(S.bucket, S.currency, S.shard).in_(picked))
        .returning(S.bucket, S.currency, *(getattr(S, m) for m in sql.MEASURES))
    )
    folded: dict[tuple[int, str], dict[str, int]] = {}
    count = 0
    for row in removed.mappings():
        count += 1
        into = folded.setdefault((row["bucket"], row["currency"]), defaultdict(int))
        for m in sql.MEASURES:
            into[m] += int(row[m])
    for (bucket, currency), values in folded.items():
        await session.execute(
            _upsert(session), {"bucket": bucket, "currency": currency, "shard": 0, **values}
        )
    return count
