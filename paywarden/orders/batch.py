"""The writes a run of order transitions shares, made once at the end of the run.

The chain scanner confirms up to hundreds of orders in one pass. Written one order at a time,
each confirmation's rollup upsert, published event (the webhook it causes) and sweep check cost
database round trips (and an autoflush of everything pending each) — most of a busy pass's
time. A `TransitionBatch` collects them, and `flush` writes them in a handful of statements in
the same database transaction: what is written, and when it commits, does not change.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.events import publish_all
from paywarden.models import Order
from paywarden.orders import repository as repo
from paywarden.orders.events import OrderChanged
from paywarden.sweeps import service as sweeps

ROLLUP_SHARDS = 16


def rollup_shard() -> int:
    return random.randrange(ROLLUP_SHARDS)  # noqa: S311 - spreads writes, not a secret


@dataclass
class TransitionBatch:
    # (day, shard) -> [paid, received]: one upsert per day touched instead of one per order.
    rollups: dict[tuple[date, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    # Each event built (the order's data taken) at its transition, published together.
    events: list[OrderChanged] = field(default_factory=list)
    sweeps: list[Order] = field(default_factory=list)
    shard: int = field(default_factory=rollup_shard)

    def bump(self, day: date, *, paid: int, received: int) -> None:
        totals = self.rollups[(day, self.shard)]
        totals[0] += paid
        totals[1] += received

    async def flush(self, db: AsyncSession) -> None:
        """Write what was collected (in the caller's transaction) and start empty again."""
        for (day, shard), (paid, received) in sorted(self.rollups.items()):
            if paid or received:
                await repo.bump_daily(db, day, shard, paid=paid, received=received)
        await publish_all(db, self.events)
        await sweeps.enqueue_many(db, self.sweeps)
        self.rollups.clear()
        self.events = []
        self.sweeps = []
