"""Profile: the cost of one authorization decision in process, without HTTP.

Sets up cards as bench/authorize.py does (a fresh database, migrated), then calls
`card_transactions.service.authorize` N times, each in its own database transaction as the
route does, on SQLite and/or PostgreSQL: first approvals, then declines past the available
balance (the deepest decline: it reaches the wallet). Prints per decision the median and p90
time, the statements sent (counted by a `before_cursor_execute` listener) and the share of time
spent waiting on the driver. `--profile` runs the approvals again under pyinstrument (a dev
dependency) and prints its call tree.

    .venv/bin/python bench/authorize_profile.py [--db sqlite,postgresql] [--n 2000]
        [--runs 3] [--cards 200] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import NullPool

from paywarden import subscribers
from paywarden.card_transactions import service
from paywarden.issuer.base import AuthorizationRequest
from paywarden.kit.db import Database, make_engine
from paywarden.kit.migrations import upgrade

sys.path.insert(0, str(Path(__file__).parent))
from authorize import FUNDS, setup  # the sibling benchmark's cards
from order_create import BENCH_KEYS, fresh_database


@dataclass
class Meter:
    """Statements and driver time of the decision being measured."""

    statements: int = 0
    sql_seconds: float = 0.0
    started: list[float] = field(default_factory=list)

    def listen(self, db: Database) -> None:
        engine = db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self.statements += 1
        self.started.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.sql_seconds += time.perf_counter() - self.started.pop()


@dataclass
class Run:
    label: str
    times_ms: list[float] = field(default_factory=list)
    statements: Counter[int] = field(default_factory=Counter)
    sql_seconds: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        ordered = sorted(self.times_ms)
        p90 = ordered[int(0.9 * len(ordered))]
        total = sum(self.times_ms) / 1000
        return (
            f"  {self.label:<9} n={len(ordered):<5} median {statistics.median(ordered):6.3f} ms  "
            f"p90 {p90:6.3f} ms  statements {dict(sorted(self.statements.items()))}  "
            f"driver {100 * self.sql_seconds / total:4.1f}% of the time  "
            f"decisions {dict(self.decisions)}"
        )


def requests(cards: list[str], n: int, amount: tuple[int, int], seed: int) -> list[Any]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible spread, not a secret
    out = []
    for _ in range(n):
        cents = rng.randint(*amount)
        foreign = rng.random() < 0.2
        out.append(
            AuthorizationRequest(
                issuer_transaction_id=f"tx_{uuid.uuid4().hex}",
                issuer_card_id=rng.choice(cards),
                amount=cents,
                currency="EUR",
                merchant_amount=cents,
                merchant_currency="USD" if foreign else "EUR",
                merchant="Bench Shop",
                mcc="5999",
                country="DE",
                three_ds=False,
                occurred_at=datetime.now(UTC),
            )
        )
    return out


async def measure(db: Database, meter: Meter, label: str, batch: list[Any]) -> Run:
    run = Run(label)
    for req in batch:
        meter.statements, meter.sql_seconds = 0, 0.0
        start = time.perf_counter()
        async with db.transaction() as session:
            decision = await service.authorize(session, "sandbox", req, datetime.now(UTC))
        run.times_ms.append((time.perf_counter() - start) * 1000)
        run.statements[meter.statements] += 1
        run.sql_seconds += meter.sql_seconds
        run.decisions[decision.decline_reason or "approved"] += 1
    return run


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "postgresql":
        async with fresh_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="pw_profile_") as tmp:
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"


async def profile(kind: str, args: argparse.Namespace) -> None:
    async with database(kind) as url:
        engine = make_engine(url, poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        cards, _, _ = await setup(url, args.cards)
        db = Database(url, keyset=BENCH_KEYS)
        meter = Meter()
        meter.listen(db)
        try:
            print(f"{kind}: {args.cards} cards, {args.n} decisions per run", flush=True)
            await measure(db, meter, "warm-up", requests(cards, 200, (100, 5_000), seed=1))
            medians: dict[str, list[float]] = {"approved": [], "declined": []}
            for n in range(args.runs):
                for label, amount in (("approved", (100, 5_000)), ("declined", (FUNDS + 1,) * 2)):
                    run = await measure(db, meter, label, requests(cards, args.n, amount, n))
                    medians[label].append(statistics.median(run.times_ms))
                    print(run.line(), flush=True)
            for label, values in medians.items():
                print(
                    f"  {label}: median of the runs' medians {statistics.median(values):.3f} ms",
                    flush=True,
                )
            if args.profile:
                from pyinstrument import Profiler

                batch = requests(cards, args.n, (100, 5_000), seed=99)
                with Profiler(async_mode="enabled", interval=0.0002) as profiler:
                    await measure(db, meter, "profiled", batch)
                print(profiler.output_text(unicode=False, color=False, show_all=False))
        finally:
            await db.dispose()


async def main(args: argparse.Namespace) -> None:
    subscribers.compose()  # a decision publishes its event (the client's notification)
    for kind in args.db:
        await profile(kind, args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=lambda text: text.split(","),
        default=["sqlite", "postgresql"],
        help="sqlite, postgresql or both, comma-separated",
    )
    parser.add_argument("--n", type=int, default=2000, help="decisions per run and kind")
    parser.add_argument("--runs", type=int, default=3, help="runs of approvals then declines")
    parser.add_argument("--cards", type=int, default=200, help="cards (two per client)")
    parser.add_argument("--profile", action="store_true", help="a pyinstrument call tree too")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
