"""Benchmark: ledger postings on PostgreSQL with concurrent writers, checked for lost updates.

Each run makes a fresh database, migrates it, opens N client wallets (each funded once, not
counted), and then has W concurrent writers (one database connection each) post T two-leg
transactions through `wallets.service.post`: half top-ups (a client wallet against a shard of
`usdt_received`), half fees (a client wallet against a shard of `fee_revenue`, the hot-row case:
every fee lands on that one system account). Each transaction is its own database transaction
(lock the accounts in id order, idempotency lookup, available check, insert, update balances,
commit). At the end, `ledger check` must find nothing: every cached balance equals the sum of its
postings (no lost update), every transaction sums to zero, and every wallet holds exactly what
the run posted to it. Prints postings/s for the whole run and the median of 1-second windows.

`--shards 1` puts every system account on one row, to see the hot row serialize the writers.
The "10,000 top-up confirmations" half of issue 7's benchmark is `bench/topups.py`.

    .venv/bin/python bench/ledger.py [--transactions 25000] [--writers 20] [--clients 2000]
        [--shards 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from paywarden.clients import service as clients
from paywarden.kit.db import Database, PoolOptions, make_engine
from paywarden.kit.migrations import upgrade
from paywarden.models import LedgerPosting
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import InsufficientFunds
from paywarden.wallets.service import Leg

sys.path.insert(0, str(Path(__file__).parent))
from order_create import BENCH_KEYS, fresh_database  # the sibling benchmark's plumbing

TARGET = 1000.0  # postings/s
FUNDING = 10_000_000  # cents each wallet starts with: fees never run out


@dataclass(frozen=True)
class RunResult:
    postings: int
    seconds: float
    window_median: float
    errors: Counter[str]
    consistent: bool

    @property
    def rate(self) -> float:
        return self.postings / self.seconds


async def setup(db: Database, n_clients: int) -> tuple[list[uuid.UUID], dict[str, list[uuid.UUID]]]:
    """The clients' USD wallets (funded), and every shard of the two system accounts."""
    accounts: list[uuid.UUID] = []
    async with db.transaction() as session:
        for n in range(n_clients):
            client = await clients.upsert_client(session, f"web_bench{n}")
            accounts.append(await wallets.wallet(session, client.id, "USD"))
        shards: dict[str, list[uuid.UUID]] = {}
        for code in ("usdt_received", "fee_revenue"):
            ids = {}
            shard = 0
            while len(ids) < wallets.SYSTEM_SHARDS:  # a key for each shard
                key = f"shard-{shard}"
                ids.setdefault(
                    wallets.shard_for(key),
                    await wallets.system_account(session, code, "USD", spread_key=key),
                )
                shard += 1
            shards[code] = [ids[i] for i in range(wallets.SYSTEM_SHARDS)]
        for n, account in enumerate(accounts):
            key = f"fund-{n}"
            source = shards["usdt_received"][wallets.shard_for(key)]
            await wallets.post(
                session, "demo", key, [Leg(account, "USD", FUNDING), Leg(source, "USD", -FUNDING)]
            )
    return accounts, shards


async def one_run(args: argparse.Namespace) -> RunResult:
    async with fresh_database() as url:
        engine = make_engine(url, poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        db = Database(url, PoolOptions(size=args.writers, max_overflow=0), keyset=BENCH_KEYS)
        try:
            accounts, shards = await setup(db, args.clients)
            rng = random.Random(args.seed)  # noqa: S311 - a workload, not a secret
            jobs: list[tuple[str, uuid.UUID, int]] = []
            for n in range(args.transactions):
                kind = "topup" if n % 2 == 0 else "topup_fee"
                amount = rng.randint(100, 50_000) if kind == "topup" else rng.randint(1, 300)
                jobs.append((kind, rng.choice(accounts), amount))
            expected: dict[uuid.UUID, int] = defaultdict(int)
            done_at: list[float] = []
            errors: Counter[str] = Counter()
            queue = iter(enumerate(jobs))

            async def writer() -> None:
                for n, (kind, account, amount) in queue:
                    key = f"bench-{n}"
                    shard = wallets.shard_for(key)
                    if kind == "topup":
                        legs = [
                            Leg(account, "USD", amount),
                            Leg(shards["usdt_received"][shard], "USD", -amount),
                        ]
                    else:
                        legs = [
                            Leg(account, "USD", -amount),
                            Leg(shards["fee_revenue"][shard], "USD", amount),
                        ]
                    try:
                        async with db.transaction() as session:
                            await wallets.post(session, kind, key, legs)
                    except InsufficientFunds:
                        errors["insufficient funds"] += 1
                        continue
                    except Exception as exc:  # counted and shown
                        errors[type(exc).__name__] += 1
                        continue
                    for leg in legs:
                        expected[leg.account_id] += leg.amount
                    done_at.append(time.perf_counter())

            started = time.perf_counter()
            await asyncio.gather(*(writer() for _ in range(args.writers)))
            seconds = time.perf_counter() - started

            windows: Counter[int] = Counter(int(t - started) for t in done_at)
            full = [windows[s] * 2 for s in range(int(seconds))]  # two postings a transaction
            window_median = statistics.median(full) if full else 0.0

            async with db.transaction() as session:
                report = await wallets.check(session)
                balances = dict(
                    (
                        await session.execute(
                            select(LedgerPosting.account_id, func.sum(LedgerPosting.amount))
                            .where(LedgerPosting.account_id.in_(accounts))
                            .group_by(LedgerPosting.account_id)
                        )
                    ).all()
                )
            for line in report.lines()[:10]:
                print(f"  ledger check: {line}")
            exact = all(balances.get(a, 0) == FUNDING + expected[a] for a in accounts)
            if not exact:
                print("  wallets differ from what the run posted", flush=True)
            return RunResult(
                postings=2 * len(done_at),
                seconds=seconds,
                window_median=window_median,
                errors=errors,
                consistent=report.ok and exact,
            )
        finally:
            await db.dispose()


async def main(args: argparse.Namespace) -> None:
    wallets.SYSTEM_SHARDS = args.shards
    print(
        f"ledger: {args.transactions} two-leg transactions ({2 * args.transactions} postings), "
        f"{args.writers} concurrent writers, {args.clients} wallets, system accounts in "
        f"{args.shards} shard(s), PostgreSQL, one process (asyncpg)",
        flush=True,
    )
    results = []
    for n in range(1, args.runs + 1):
        r = await one_run(args)
        errors = ", ".join(f"{k} {v}" for k, v in r.errors.items()) or "none"
        print(
            f"run {n}: {r.postings} postings in {r.seconds:5.1f} s = {r.rate:7.1f} postings/s "
            f"(median 1 s window {r.window_median:7.1f}/s); errors: {errors}; "
            f"no lost update: {'yes' if r.consistent else 'NO'}",
            flush=True,
        )
        results.append(r)
    rate = statistics.median(r.rate for r in results)
    consistent = all(r.consistent for r in results)
    print(
        f"median of {len(results)}: {rate:7.1f} postings/s; target >= {TARGET:.0f} postings/s "
        f"with no lost update: {'met' if rate >= TARGET and consistent else 'NOT met'}"
    )
    if not consistent:
        sys.exit(1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=25_000, help="two-leg transactions")
    parser.add_argument("--writers", type=int, default=20, help="concurrent writers")
    parser.add_argument("--clients", type=int, default=2_000, help="client wallets")
    parser.add_argument(
        "--shards", type=int, default=wallets.SYSTEM_SHARDS, help="rows per system account"
    )
    parser.add_argument("--runs", type=int, default=3, help="fresh database each")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
