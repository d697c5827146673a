"""Benchmark: the admin dashboard (GET /api/v1/admin/stats and /stats/daily) on 1,000,000 orders.

Makes a fresh PostgreSQL database, migrates it, bulk-loads the orders in one INSERT ... SELECT
(spread over 180 days, a mix of statuses; all rows share one deposit address, which no
constraint on `orders` forbids), rebuilds the daily rollup with `rebuild_daily`, starts
`paywarden serve --no-worker`, signs in as an operator with a real TOTP code, and times
sequential GETs after a warm-up. Target: /stats p95 at most 50 ms.

    .venv/bin/python bench/admin_stats.py [--rows 1000000] [--requests 300] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from paywarden.kit.db import Database
from paywarden.orders.repository import rebuild_daily

sys.path.insert(0, str(Path(__file__).parent))
from bench_operator import BenchOperator, time_gets
from order_create import (  # the sibling benchmark's server plumbing
    BENCH_KEYS,
    ServerConfig,
    create_merchant,
    fill_address_pool,
    free_port,
    fresh_database,
    migrate,
    percentile,
    running_server,
    server_env,
    wait_ready,
)

OPERATOR = BenchOperator("bench-ops@example.com")
DAYS = 180
WARMUP = 30
TARGET_P95_MS = 50.0

# One shared address (its own xpub_id, so the server's pool figures are its own).
INSERT_ADDRESS = """
INSERT INTO deposit_addresses
    (id, xpub_id, derivation_index, address, status, available_at, allocated_at, created_at)
VALUES (gen_random_uuid(), 'bench', 0, 'TBenchSharedAddress000000000000000', 'allocated',
        now(), now(), now())
RETURNING id, address
"""

# Statuses by i % 20: 12 completed, 2 confirmed, 1 callback_failed, 3 expired, 1 pending,
# 1 confirming. Paid (confirmed, completed, callback_failed) orders received what they expected.
INSERT_ORDERS = """
INSERT INTO orders
    (id, merchant_id, external_id, request_hash, address_id, address, amount_expected,
     amount_received, status, callback_url, metadata, tx_hash, created_at, created_day,
     expires_at, updated_at)
SELECT gen_random_uuid(), CAST(:merchant_id AS uuid), 'bench-' || i,
       md5(i::text) || md5((-i)::text), CAST(:address_id AS uuid), CAST(:address AS text), amount,
       CASE WHEN status IN ('confirmed', 'completed', 'callback_failed') THEN amount ELSE 0 END,
       status, NULL, NULL,
       CASE WHEN status IN ('confirmed', 'completed', 'callback_failed')
            THEN md5(i::text) || md5((i + 1)::text) END,
       created_at, (created_at AT TIME ZONE 'UTC')::date, created_at + interval '1 hour',
       created_at
FROM (
    SELECT i,
           1000000 + (i % 5000) * 10000 AS amount,
           (ARRAY['completed', 'completed', 'completed', 'completed', 'completed', 'completed',
                  'completed', 'completed', 'completed', 'completed', 'completed', 'completed',
                  'confirmed', 'confirmed', 'callback_failed', 'expired', 'expired', 'expired',
                  'pending', 'confirming'])[i % 20 + 1] AS status,
           now() - make_interval(secs => i * CAST(:step AS double precision)) AS created_at
    FROM generate_series(1, CAST(:rows AS integer)) AS i
) AS g
"""


@dataclass(frozen=True)
class Timings:
    stats: list[float]
    daily: list[float]


async def load_orders(url: str, rows: int) -> float:
    """Insert `rows` orders and their rollup; returns the seconds it took."""
    started = time.perf_counter()
    await create_merchant(url)
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            merchant_id = await session.scalar(text("SELECT id FROM merchants"))
            address = (await session.execute(text(INSERT_ADDRESS))).one()
            await session.execute(
                text(INSERT_ORDERS),
                {
                    "merchant_id": merchant_id,
                    "address_id": address.id,
                    "address": address.address,
                    "rows": rows,
                    "step": DAYS * 86400 / rows,
                },
            )
        async with db.transaction() as session:
            await rebuild_daily(session)
        async with db.transaction() as session:
            session.add(OPERATOR.row())
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))  # steady state: autovacuum stays quiet
    finally:
        await db.dispose()
    return time.perf_counter() - started


async def one_run(rows: int, requests: int, address_pool: int) -> Timings:
    with tempfile.TemporaryDirectory(prefix="pw_bench_") as tmp:
        cwd = Path(tmp)
        async with fresh_database() as url:
            config = ServerConfig(
                workers=1, pool_size=5, max_overflow=10, address_pool=address_pool
            )
            env = server_env(url, cwd, config)
            migrate(env, cwd)
            await fill_address_pool(url, env)
            seconds = await load_orders(url, rows)
            print(f"loaded {rows:,} orders and the rollup in {seconds:.1f} s", flush=True)
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with running_server(env, cwd, port, workers=1) as server:
                await wait_ready(base_url, server, cwd / "server.log")
                async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
                    await OPERATOR.sign_in(client)
                    shown = (await client.get("/api/v1/admin/stats")).json()
                    count = shown["total"]["order_count"]
                    print(f"stats total.order_count = {count:,} (rows in orders: {rows:,})")
                    assert count == rows, shown
                    return Timings(
                        stats=await time_gets(client, "/api/v1/admin/stats", requests, WARMUP),
                        daily=await time_gets(
                            client, "/api/v1/admin/stats/daily", requests, WARMUP
                        ),
                    )


ENDPOINTS = {"stats": "GET /api/v1/admin/stats", "daily": "GET /api/v1/admin/stats/daily"}
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def figures(timings: list[float]) -> dict[str, float]:
    return {name: percentile(timings, q) * 1000 for name, q in QUANTILES.items()}


def line(name: str, ms: dict[str, float]) -> str:
    return f"{name:<30} " + "  ".join(f"{q} {v:6.2f} ms" for q, v in ms.items())


async def main(args: argparse.Namespace) -> None:
    print(
        f"GET /api/v1/admin/stats[/daily] with {args.rows:,} orders over {DAYS} days: "
        f"{args.requests} sequential requests each after {WARMUP} warm-up, one client; "
        f"server: serve --no-worker, 1 worker, {args.address_pool} free addresses"
    )
    runs: list[dict[str, dict[str, float]]] = []
    for n in range(1, args.runs + 1):
        timings = await one_run(args.rows, args.requests, args.address_pool)
        runs.append({"stats": figures(timings.stats), "daily": figures(timings.daily)})
        print(f"run {n}:")
        for key, name in ENDPOINTS.items():
            print("  " + line(name, runs[-1][key]), flush=True)
    print(f"median of {len(runs)} runs:")
    for key, name in ENDPOINTS.items():
        medians = {q: statistics.median(run[key][q] for run in runs) for q in QUANTILES}
        print("  " + line(name, medians))
    stats_p95 = statistics.median(run["stats"]["p95"] for run in runs)
    verdict = "met" if stats_p95 <= TARGET_P95_MS else "NOT met"
    print(f"target /stats p95 <= {TARGET_P95_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders to load")
    parser.add_argument("--requests", type=int, default=300, help="timed GETs per endpoint")
    parser.add_argument("--runs", type=int, default=1, help="fresh database and server each")
    parser.add_argument(
        "--address-pool", type=int, default=50, help="free addresses (the pool figures count them)"
    )
    asyncio.run(main(parser.parse_args()))
