"""Benchmark: the operator console's pages (GET /admin/...) on the embedded default, SQLite, with
10,000 clients, ~20,000 cards and ~100,000 card transactions over 30 days, over real HTTP
against a real `paywarden serve --no-worker` (issue 15: every console page under 200 ms).

Makes a SQLite file in a temporary directory (`DATABASE_URL=sqlite+aiosqlite:///...`), migrates
it with `paywarden migrate`, and loads it in one transaction with SQLAlchemy Core executemany
over the models' tables (deterministic pseudo-random values; the card-stats triggers fire on the
card transaction inserts, and the rollup is rebuilt afterwards all the same):

- 3 plans (one the default), an EUR/USD rate, the system accounts in 16 shards;
- the clients (`tg_<n>` external ids, most with a username, a few banned) and their
  subscriptions;
- ~2 cards a client (active/frozen/closed, EUR or USD, limits);
- the card transactions over the last 30 days (settled, approved, declined across the reasons,
  reversed, refunded, expired, a few pending; some foreign with an FX fee; no ledger holds);
- an EUR wallet for every client (a USD one for a third of them), each with its balance and one
  `topup` ledger transaction that credits it from the `usdt_received` system account of the same
  currency, so every transaction sums to zero and `paywarden ledger check` passes;
- a few hundred web users (some linked to a client) and some issuer events.

Then `paywarden analytics rebuild`, an operator with TOTP (its secret encrypted under the
server's key) signs in over HTTP, and each page is timed with sequential GETs after a warm-up;
every answer must be a 200. Target: p95 at most 200 ms per page.

    .venv/bin/python bench/console.py [--clients 10000] [--requests 50] [--warmup 5] [--keep]

Cards and card transactions scale with --clients (2 and 10 a client). A quick run:
`--clients 1000 --requests 10`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from paywarden.models.cards import Card, CardTransaction, IssuerEvent
from paywarden.models.clients import Client
from paywarden.models.ledger import LedgerAccount, LedgerPosting, LedgerTransaction
from paywarden.models.plans import FxRate, Plan
from paywarden.models.subscriptions import Subscription
from paywarden.models.web_users import WebUser

sys.path.insert(0, str(Path(__file__).parent))
from bench_operator import BenchOperator, time_gets
from order_create import (  # the sibling benchmark's server plumbing
    BIN,
    ServerConfig,
    fill_address_pool,
    free_port,
    migrate,
    percentile,
    running_server,
    server_env,
    wait_ready,
)

OPERATOR = BenchOperator("bench-console@example.com")
TARGET_P95_MS = 200.0
DAYS = 30
CARDS_PER_CLIENT = 2
TRANSACTIONS_PER_CLIENT = 10
WEB_USERS = 300
ISSUER_EVENTS = 2_000
SHARDS = 16  # as wallets.service.SYSTEM_SHARDS
EUR_USD_MICROS = 1_085_000
SYSTEM_CODES = ("usdt_received", "fee_revenue", "fx", "rounding", "issuer_float", "adjustments")
MERCHANTS = (
    ("AMAZON MKTPLACE", "5942", "LU"),
    ("GOOGLE *ADS", "7311", "IE"),
    ("FACEBK *ADS", "7311", "IE"),
    ("APPLE.COM/BILL", "5818", "IE"),
    ("NETFLIX.COM", "4899", "NL"),
    ("SPOTIFY", "5815", "SE"),
    ("UBER *TRIP", "4121", "NL"),
    ("BOOKING.COM", "4722", "NL"),
    ("OPENAI *CHATGPT", "5734", "US"),
    ("AWS EMEA", "7372", "LU"),
    ("LIDL", "5411", "DE"),
    ("TIKTOK ADS", "7311", "SG"),
)
DECLINES = (
    ("insufficient_funds", "51"),
    ("do_not_honor", "05"),
    ("3ds_failed", "1A"),
    ("card_inactive", "62"),
    ("spending_limit", "61"),
    ("suspected_fraud", "59"),
    ("other", "57"),
)


@dataclass(frozen=True)
class Loaded:
    clients: int
    cards: int
    transactions: int
    wallets: int
    web_users: int
    events: int
    sample_client: uuid.UUID  # the client of the detail and lookup pages


def pages(client_id: uuid.UUID) -> tuple[str, ...]:
    return (
        "/admin",
        "/admin/cards",
        "/admin/cards?period=30d",
        # The dashboard's tabs, loaded by htmx once it is shown (the costly read: 30 days grouped).
        "/admin/cards/breakdown?period=30d",
        "/admin/cards/breakdown?period=30d&tab=client_volume",
        "/admin/clients",
        "/admin/clients?q=tg_5000",
        f"/admin/clients/{client_id}",
        "/admin/plans",
        "/admin/banners",
        "/admin/support",
        f"/admin/lookup?id={client_id}",
        "/admin/card-transactions",
        "/admin/web-users",
        "/admin/issuer-events",
        "/admin/b2b",
        "/admin/gateway",
        "/admin/orders",
        "/admin/audit",
    )


# ---- the load -----------------------------------------------------------------------------


def _id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _plans(now: datetime) -> list[dict[str, Any]]:
    made = now - timedelta(days=400)
    rows = []
    for n, (name, fee, included, cap, issue, topup, fx) in enumerate(
        (
            ("Start", 0, 2, 3, 500, 300, 200),
            ("Standard", 990, 3, 10, 300, 200, 150),
            ("Pro", 2990, 10, 50, 0, 100, 100),
        ),
        start=1,
    ):
        rows.append(
            {
                "id": uuid.uuid5(uuid.NAMESPACE_OID, f"plan:{n}"),
                "name": name,
                "bullets": "",
                "currency": "EUR",
                "monthly_fee": fee,
                "cards_included": included,
                "max_active_cards": cap,
                "card_issue_fee": issue,
                "topup_fee_bps": topup,
                "fx_fee_bps": fx,
                "hidden_from_home": False,
                "sort_order": n,
                "is_default": n == 1,
                "archived": False,
                "created_at": made,
                "updated_at": made,
            }
        )
    return rows


def _system_accounts(now: datetime) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {
        (code, currency, shard): {
            "id": uuid.uuid5(uuid.NAMESPACE_OID, f"sys:{code}:{currency}:{shard}"),
            "kind": "system",
            "client_id": None,
            "code": code,
            "shard": shard,
            "currency": currency,
            "balance": 0,
            "created_at": now - timedelta(days=400),
        }
        for code in SYSTEM_CODES
        for currency in ("EUR", "USD", "USDT")
        for shard in range(SHARDS)
    }


def _transaction(
    rng: random.Random, k: int, card: dict[str, Any], fx_bps: int, now: datetime
) -> dict[str, Any]:
    created = now - timedelta(seconds=rng.random() * DAYS * 86400)
    s = rng.random()
    status = (
        "declined"
        if s < 0.10
        else "reversed"
        if s < 0.12
        else "expired"
        if s < 0.125
        else "refunded"
        if s < 0.15
        else "settled"
    )
    age = now - created
    still_held = timedelta(days=7) if status == "expired" else timedelta(hours=36)
    if status in ("settled", "refunded", "expired") and age < still_held:
        status = "approved"
    three_ds = rng.random() < 0.10
    if three_ds and status != "declined" and age < timedelta(minutes=10):
        status = "pending"
    reason, raw = DECLINES[rng.randrange(len(DECLINES))] if status == "declined" else (None, "00")
    foreign = rng.random() < 0.04
    base = 500 + int(rng.expovariate(1 / 3000))
    fee = (base * fx_bps + 9999) // 10000 if foreign else 0
    amount = base + fee
    currency = card["currency"]
    merchant, mcc, country = MERCHANTS[rng.randrange(len(MERCHANTS))]
    settled_at = created + timedelta(hours=12 + rng.random() * 24)
    if status in ("settled", "refunded"):
        updated = settled_at
    elif status == "expired":
        updated = created + timedelta(days=7)
    elif status == "reversed":
        updated = created + timedelta(hours=rng.random() * 6)
    else:
        updated = created
    return {
        "id": _id(rng),
        "card_id": card["id"],
        "client_id": card["client_id"],
        "issuer": "sandbox",
        "issuer_transaction_id": f"tx_{k:012d}",
        "status": status,
        "decline_reason": reason,
        "raw_code": raw,
        "amount": amount,
        "currency": currency,
        "fx_fee": fee,
        "merchant_amount": (
            base
            if not foreign
            else base * EUR_USD_MICROS // 1_000_000
            if currency == "EUR"
            else base * 1_000_000 // EUR_USD_MICROS
        ),
        "merchant_currency": currency if not foreign else "USD" if currency == "EUR" else "EUR",
        "merchant": merchant,
        "mcc": mcc,
        "country": country,
        "three_ds": three_ds,
        "hold_id": None,
        "settled_amount": amount if status in ("settled", "refunded") else None,
        "refunded_amount": amount if status == "refunded" else 0,
        "created_at": created,
        "updated_at": min(updated, now),
        "settled_at": settled_at if status in ("settled", "refunded") else None,
    }


def load(path: Path, clients: int) -> Loaded:
    """Fill the migrated SQLite file in one transaction (executemany per table)."""
    rng = random.Random(15)  # noqa: S311 - test data, not secrets
    now = datetime.now(UTC)
    plans = _plans(now)
    systems = _system_accounts(now)
    client_rows: list[dict[str, Any]] = []
    subscriptions: list[dict[str, Any]] = []
    for i in range(1, clients + 1):
        plan = plans[0 if rng.random() < 0.7 else 1 if rng.random() < 0.67 else 2]
        created = now - timedelta(seconds=rng.random() * 365 * 86400)
        client_id = _id(rng)
        client_rows.append(
            {
                "id": client_id,
                "external_user_id": f"tg_{i}",
                "display_name": f"Client {i}",
                "username": f"user_{i}" if rng.random() < 0.6 else None,
                "language": "en" if rng.random() < 0.5 else "ru",
                "status": "banned" if rng.random() < 0.005 else "active",
                "can_create_cards": True,
                "plan_id": plan["id"],
                "plan_since": created,
                "created_at": created,
                "last_active_at": max(created, now - timedelta(seconds=rng.random() * 30 * 86400)),
            }
        )
        start = now - timedelta(seconds=rng.random() * 30 * 86400)
        subscriptions.append(
            {
                "id": _id(rng),
                "client_id": client_id,
                "plan_id": plan["id"],
                "status": "active",
                "current_period_start": start,
                "current_period_end": start + timedelta(days=30),
                "fee_charged": 0,
                "fee_currency": None,
                "last_transaction_id": None,
                "created_at": created,
                "updated_at": start,
            }
        )
    plan_of = {c["id"]: next(p for p in plans if p["id"] == c["plan_id"]) for c in client_rows}

    cards: list[dict[str, Any]] = []
    for j in range(clients * CARDS_PER_CLIENT):
        owner = client_rows[j % clients] if j < clients else rng.choice(client_rows)
        created = owner["created_at"] + rng.random() * (now - owner["created_at"])
        s = rng.random()
        status = "closed" if s < 0.1 else "frozen" if s < 0.15 else "active"
        cards.append(
            {
                "id": _id(rng),
                "client_id": owner["id"],
                "issuer": "sandbox",
                "issuer_card_id": f"card_{j:010d}",
                "currency": "EUR" if rng.random() < 0.7 else "USD",
                "monthly_limit": rng.choice((50_000, 100_000, 250_000, 500_000, 1_000_000)),
                "spend_month": None,
                "spent_this_month": 0,
                "status": status,
                "last4": f"{j % 10000:04d}",
                "label": rng.choice((None, "Ads", "Travel", "Subscriptions", "Shopping")),
                "issue_fee": 0,
                "issue_transaction_id": None,
                "created_at": created,
                "updated_at": created,
                "closed_at": created + rng.random() * (now - created) if s < 0.1 else None,
            }
        )
    spending = [c for c in cards if c["status"] != "closed"]
    transactions = [
        _transaction(rng, k, card, plan_of[card["client_id"]]["fx_fee_bps"], now)
        for k, card in enumerate(
            rng.choice(spending) for _ in range(clients * TRANSACTIONS_PER_CLIENT)
        )
    ]

    # Wallets: a top-up each, from usdt_received in the wallet's currency (balances follow).
    wallets: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    for c in client_rows:
        for currency in ("EUR", "USD") if rng.random() < 0.33 else ("EUR",):
            wallet = {
                "id": _id(rng),
                "kind": "client",
                "client_id": c["id"],
                "code": None,
                "shard": 0,
                "currency": currency,
                "balance": 1_000 + int(rng.expovariate(1 / 20_000)),
                "created_at": c["created_at"],
            }
            wallets.append(wallet)
            key = f"topup:bench:{wallet['id']}"
            at = c["created_at"] + rng.random() * (now - c["created_at"])
            system = systems[("usdt_received", currency, zlib.crc32(key.encode()) % SHARDS)]
            system["balance"] -= wallet["balance"]
            tx_id = _id(rng)
            ledger.append(
                {
                    "id": tx_id,
                    "kind": "topup",
                    "idempotency_key": key,
                    "reference_type": "client",
                    "reference_id": str(c["id"]),
                    "note": "bench top-up",
                    "actor": "system",
                    "created_at": at,
                }
            )
            for account, amount in ((wallet, wallet["balance"]), (system, -wallet["balance"])):
                postings.append(
                    {
                        "id": _id(rng),
                        "transaction_id": tx_id,
                        "account_id": account["id"],
                        "currency": currency,
                        "amount": amount,
                        "created_at": at,
                    }
                )

    web_users = []
    for w in range(WEB_USERS):
        linked = client_rows[rng.randrange(clients)] if rng.random() < 0.5 else None
        created = now - timedelta(seconds=rng.random() * 90 * 86400)
        web_users.append(
            {
                "id": _id(rng),
                "email": f"web{w}@example.com",
                "password_hash": "bench-not-a-real-hash",
                "status": rng.choice(("pending", "active", "active", "disabled")),
                "email_verified_at": created if linked else None,
                "external_user_id": linked["external_user_id"] if linked else None,
                "client_id": linked["id"] if linked else None,
                "created_at": created,
                "last_login_at": created if linked else None,
            }
        )

    events = []
    for e, tx in enumerate(rng.sample(transactions, min(ISSUER_EVENTS, len(transactions)))):
        lag = int(rng.expovariate(1 / 400))
        status = "failed" if rng.random() < 0.02 else "processed"
        payload = {"type": "authorization", "transaction_id": tx["issuer_transaction_id"]}
        events.append(
            {
                "id": _id(rng),
                "issuer": "sandbox",
                "event_id": f"evt_{e:010d}",
                "event_type": "authorization",
                "occurred_at": tx["created_at"],
                "received_at": tx["created_at"] + timedelta(milliseconds=lag),
                "lag_ms": lag,
                "raw_body": json.dumps(payload),
                "payload": payload,
                "code_reference": None,
                "code_expires_at": None,
                "status": status,
                "attempts": 1,
                "error": "bench: issuer said no" if status == "failed" else None,
                "processed_at": tx["created_at"] + timedelta(milliseconds=lag + 5),
            }
        )

    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for table, rows in (
                (Plan.__table__, plans),
                (
                    FxRate.__table__,
                    [
                        {
                            "eur_usd_micros": EUR_USD_MICROS,
                            "set_at": now - timedelta(days=100),
                            "set_by": "cli",
                        }
                    ],
                ),
                (Client.__table__, client_rows),
                (Subscription.__table__, subscriptions),
                (LedgerAccount.__table__, [*systems.values(), *wallets]),
                (LedgerTransaction.__table__, ledger),
                (LedgerPosting.__table__, postings),
                (Card.__table__, cards),
                (CardTransaction.__table__, transactions),
                (WebUser.__table__, web_users),
                (IssuerEvent.__table__, events),
            ):
                started = time.perf_counter()
                conn.execute(table.insert(), rows)
                took = time.perf_counter() - started
                print(f"  {table.name:<22} {len(rows):>8,} rows {took:6.1f} s", flush=True)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            count = {
                table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in (
                    Client.__table__,
                    Card.__table__,
                    CardTransaction.__table__,
                    WebUser.__table__,
                    IssuerEvent.__table__,
                )
            }
    finally:
        engine.dispose()
    return Loaded(
        clients=count["clients"],
        cards=count["cards"],
        transactions=count["card_transactions"],
        wallets=len(wallets),
        web_users=count["web_users"],
        events=count["issuer_events"],
        sample_client=client_rows[len(client_rows) // 2]["id"],
    )


def cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[bool, str]:
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "paywarden"), *args], env=env, cwd=cwd, capture_output=True, text=True
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, output[-1] if output else ""


# ---- the timing ---------------------------------------------------------------------------


async def measure(
    base_url: str, paths: tuple[str, ...], requests: int, warmup: int
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    width = max(len(p) for p in paths)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await OPERATOR.sign_in(client)
        found = "tg_5000" in (await client.get("/admin/clients?q=tg_5000")).text
        print(f"/admin/clients?q=tg_5000 shows tg_5000: {'yes' if found else 'no'}", flush=True)
        for path in paths:
            results[path] = await time_gets(client, path, requests, warmup)
            ms = [t * 1000 for t in results[path]]
            p95 = percentile(ms, 0.95)
            verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
            print(
                f"{path:<{width}}  median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  "
                f"max {max(ms):6.1f} ms  (target p95 <= {TARGET_P95_MS:.0f} ms: {verdict})",
                flush=True,
            )
    return results


async def main(args: argparse.Namespace) -> None:
    print(
        f"console pages on SQLite with {args.clients:,} clients, "
        f"{args.clients * CARDS_PER_CLIENT:,} cards, "
        f"{args.clients * TRANSACTIONS_PER_CLIENT:,} card transactions over {DAYS} days; "
        f"{args.requests} sequential GETs per page after {args.warmup} warm-up; "
        "server: serve --no-worker, 1 worker",
        flush=True,
    )
    tmp = tempfile.mkdtemp(prefix="pw_bench_console_")
    cwd = Path(tmp)
    db_file = cwd / "paywarden.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    try:
        config = ServerConfig(workers=1, pool_size=5, max_overflow=10, address_pool=5)
        env = server_env(url, cwd, config)
        migrate(env, cwd)
        await fill_address_pool(url, env)
        started = time.perf_counter()
        loaded = await asyncio.to_thread(load, db_file, args.clients)
        print(
            f"loaded in {time.perf_counter() - started:.1f} s: {loaded.clients:,} clients, "
            f"{loaded.cards:,} cards, {loaded.transactions:,} card transactions, "
            f"{loaded.wallets:,} wallets, {loaded.web_users:,} web users, "
            f"{loaded.events:,} issuer events; file {db_file.stat().st_size / 2**20:.0f} MiB",
            flush=True,
        )
        for what in (("analytics", "rebuild"), ("ledger", "check")):
            started = time.perf_counter()
            ok, last = await asyncio.to_thread(cli, env, cwd, *what)
            took = time.perf_counter() - started
            print(f"paywarden {' '.join(what)} ({took:.1f} s): {'ok' if ok else 'FAILED ' + last}")
        await OPERATOR.create(url)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with running_server(env, cwd, port, workers=1) as server:
            await wait_ready(base_url, server, cwd / "server.log")
            results = await measure(
                base_url, pages(loaded.sample_client), args.requests, args.warmup
            )
        slow = [p for p, t in results.items() if percentile(t, 0.95) * 1000 > TARGET_P95_MS]
        verdict = "met" if not slow else f"NOT met ({len(slow)} of {len(results)} pages)"
        print(f"target p95 <= {TARGET_P95_MS:.0f} ms on every page: {verdict}")
    finally:
        if args.keep:
            print(f"kept {db_file}")
        else:
            shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50, help="timed GETs per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed GETs per page first")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    parsed = parser.parse_args()
    if parsed.clients < 2:
        parser.error("at least 2 clients")
    asyncio.run(main(parsed))
