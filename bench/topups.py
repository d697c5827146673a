"""Benchmark: USDT top-up confirmations credited to wallets on PostgreSQL, concurrently.

Each run makes a fresh database, migrates it, and prepares (not timed) C clients on a default
plan with a 1.5 % top-up fee, the internal Cards merchant, and T top-ups made through
`topups.service.create` (each a gateway order of the internal merchant with its own deposit
address), whose orders are then marked confirmed with what "arrived" (the amount asked, some a
little more, some with sub-cent USDT left over). Then W concurrent writers, each confirmation in
its own database transaction, credit them through `topups.service.on_order_confirmed` (what the
order hook calls when the scanner confirms an order); a share of the confirmations is
delivered twice, the twins side by side in the queue so they race (a replayed
`order.confirmed`). Each credit is one ledger transaction of 4 to 6 postings (USDT received,
FX, rounding; FX, the client's USD wallet, fee revenue), locking its accounts, and the top-up
row first.

At the end: every top-up credited exactly once (one `topup` ledger transaction per order), each
client's USD balance equals the sum of its credits (no lost update) and what `credit_for`
computes, and `ledger check` finds nothing. Prints postings/s for the timed phase.

    .venv/bin/python bench/topups.py [--topups 10000] [--writers 20] [--clients 1000]
        [--replays 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum
from sqlalchemy import func, select, update
from sqlalchemy.pool import NullPool

from paywarden import subscribers
from paywarden.addresses import service as addresses
from paywarden.addresses.service import Pool
from paywarden.clients import service as clients
from paywarden.context import GatewayContext
from paywarden.kit.db import Database, PoolOptions, make_engine
from paywarden.kit.migrations import upgrade
from paywarden.models import LedgerPosting, LedgerTransaction, Order, Plan, Topup
from paywarden.topups import service as topups
from paywarden.tron.keys import account_xpub
from paywarden.wallets import service as wallets

sys.path.insert(0, str(Path(__file__).parent))
from order_create import BENCH_KEYS, fresh_database  # the sibling benchmark's plumbing

TARGET = 1000.0  # postings/s
USDT = 1_000_000
FEE_BPS = 150
BATCH = 500  # top-ups made per setup transaction


async def setup(
    db: Database, args: argparse.Namespace, rng: random.Random
) -> tuple[list[uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """The clients, and T confirmed top-up orders: (order ids, order -> client)."""
    xpub = account_xpub(str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12)))
    pool = Pool(xpub=xpub, min_free=args.topups, reuse_cooldown=timedelta(hours=1))
    gateway = GatewayContext(pool=pool, tz=ZoneInfo("UTC"), public_base_url="http://bench")
    async with db.transaction() as session:
        session.add(
            Plan(
                name="Bench",
                monthly_fee=0,
                cards_included=1,
                max_active_cards=3,
                card_issue_fee=0,
                topup_fee_bps=FEE_BPS,
                fx_fee_bps=0,
                is_default=True,
            )
        )
        await topups.ensure_internal_merchant(session)
        await topups.warm_system_accounts(session)
        await addresses.top_up(session, pool)  # every deposit address derived up front
        people = [
            await clients.upsert_client(session, f"web_bench{n}") for n in range(args.clients)
        ]
    owner: dict[uuid.UUID, uuid.UUID] = {}
    for start in range(0, args.topups, BATCH):
        async with db.transaction() as session:
            for _ in range(min(BATCH, args.topups - start)):
                person = rng.choice(people)
                asked = rng.randint(1, 2_000) * USDT
                made = await topups.create(session, gateway, person, asked, base_url="http://b")
                owner[made.order_id] = person.id
    # What arrived: mostly the amount asked, some more, some with sub-cent USDT.
    async with db.transaction() as session:
        for order_id in owner:
            extra = rng.choice((0, 0, 0, 0, 0, 0, 250_000, 10_000, 1_234, 999_999))
            await session.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(status="confirmed", amount_received=Order.amount_expected + extra)
            )
    return list(owner), owner


async def run(args: argparse.Namespace) -> bool:
    rng = random.Random(args.seed)  # noqa: S311 - a workload, not a secret
    async with fresh_database() as url:
        engine = make_engine(url, poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        db = Database(url, PoolOptions(size=args.writers, max_overflow=0), keyset=BENCH_KEYS)
        try:
            t0 = time.perf_counter()
            orders, owner = await setup(db, args, rng)
            print(f"setup: {len(orders)} top-up orders in {time.perf_counter() - t0:.1f} s")
            queue: list[uuid.UUID] = []
            for order_id in orders:
                queue.append(order_id)
                if rng.random() < args.replays:
                    queue.append(order_id)  # its twin, next in line: they run concurrently
            jobs = iter(queue)
            errors: Counter[str] = Counter()

            async def writer() -> None:
                for order_id in jobs:
                    try:
                        async with db.transaction() as session:
                            order = await session.get(Order, order_id)
                            assert order is not None
                            await topups.on_order_confirmed(session, order)
                    except Exception as exc:  # counted and shown
                        errors[type(exc).__name__] += 1

            async with db.transaction() as session:
                before = int(await session.scalar(select(func.count(LedgerPosting.id))) or 0)
            started = time.perf_counter()
            await asyncio.gather(*(writer() for _ in range(args.writers)))
            seconds = time.perf_counter() - started

            async with db.transaction() as session:
                postings = int(await session.scalar(select(func.count(LedgerPosting.id))) or 0)
                postings -= before
                credits = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(LedgerTransaction)
                        .where(LedgerTransaction.kind == "topup")
                    )
                    or 0
                )
                rows = (await session.scalars(select(Topup))).all()
                received = dict(
                    (await session.execute(select(Order.id, Order.amount_received))).all()
                )
                report = await wallets.check(session)
                expected: dict[uuid.UUID, int] = defaultdict(int)
                recorded: dict[uuid.UUID, int] = defaultdict(int)
                for t in rows:
                    credit = topups.credit_for(received[t.order_id], Decimal(1), FEE_BPS)
                    expected[t.client_id] += credit.net
                    recorded[t.client_id] += t.credited_cents or 0
                held = {
                    c: (await wallets.balances(session, c))["USD"].balance
                    for c in set(owner.values())
                }
            once = credits == len(orders) and all(t.status == "credited" for t in rows)
            exact = held == dict(expected) == dict(recorded)
            for line in report.lines()[:10]:
                print(f"  ledger check: {line}")
            rate = postings / seconds
            replays = len(queue) - len(orders)
            print(
                f"{len(queue)} confirmations ({len(orders)} top-ups, {replays} replayed "
                f"concurrently) by {args.writers} writers: {postings} postings in "
                f"{seconds:.1f} s = {rate:.1f} postings/s, {len(orders) / seconds:.1f} "
                f"top-ups/s; errors: {', '.join(f'{k} {v}' for k, v in errors.items()) or 'none'}"
            )
            ok = once and exact and report.ok and not errors
            print(
                f"credited exactly once: {'yes' if once else 'NO'}; no lost update (wallets = "
                f"sum of credits): {'yes' if exact else 'NO'}; ledger check: "
                f"{'ok' if report.ok else 'FAILED'}; target >= {TARGET:.0f} postings/s: "
                f"{'met' if rate >= TARGET else 'NOT met'}",
                flush=True,
            )
            return ok
        finally:
            await db.dispose()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topups", type=int, default=10_000, help="top-up confirmations")
    parser.add_argument("--writers", type=int, default=20, help="concurrent writers")
    parser.add_argument("--clients", type=int, default=1_000, help="clients topping up")
    parser.add_argument("--replays", type=float, default=0.1, help="share confirmed twice")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    subscribers.compose()  # a credit publishes its event (the client's notification)
    if not asyncio.run(run(parse_args())):
        sys.exit(1)
