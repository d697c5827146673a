"""Benchmark: real-time card authorizations (POST /api/v1/issuer/sandbox/authorize) over real
HTTP on PostgreSQL, at fixed arrival rates, and a race on one wallet.

Each run makes a fresh database, migrates it, creates clients with funded EUR wallets and
active cards (a plan with an FX fee), starts `paywarden serve --no-worker` as a subprocess and
sends signed authorization requests as the sandbox issuer would (HMAC over the raw body),
spread over many cards and clients. The load is an open loop (bench/open_loop.py): requests
arrive at R per second whatever the server does, as a card network sends them, and each
latency counts from when the request was due. Each rate runs for --seconds; every answer must be
a 200 with a decision. On a small machine the generator shares the CPUs with the server and
PostgreSQL.

Then the race: R concurrent authorizations on ONE wallet (two cards, so that the cards' locks
don't serialize them: the wallet's must) whose balance allows only some; the approved total
must never exceed the balance, and the ledger check must pass.

Target: p99 at most 50 ms. The figure printed is the highest arrival rate tried whose p99 stays
at or under it: the rate of authorizations a card program can take on this machine.

    .venv/bin/python bench/authorize.py [--rates 100,200,400] [--seconds 60] [--cards 400]
        [--race 200] [--workers 1] [--pool-size 10] [--max-overflow 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from paywarden.issuer import signing
from paywarden.kit.db import Database
from paywarden.models import Card, CardTransaction, Client, LedgerHold, Plan
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg

sys.path.insert(0, str(Path(__file__).parent))
import open_loop
from open_loop import Request
from order_create import BENCH_KEYS, ServerConfig, served  # the sibling benchmark's plumbing

TARGET_P99_MS = 50.0
PATH = "/api/v1/issuer/sandbox/authorize"
SECRET = "bench-issuer-webhook-secret"
FUNDS = 1_000_000  # cents per bench client: approvals, not declines, are measured
RACE_FUNDS = 10_000
RACE_AMOUNT = 700


async def _credit(session: Any, client_id: uuid.UUID, amount: int) -> None:
    key = f"bench:{uuid.uuid4()}"
    account = await wallets.wallet(session, client_id, "EUR")
    source = await wallets.system_account(session, "usdt_received", "EUR", spread_key=key)
    await wallets.post(
        session, "topup", key, [Leg(account, "EUR", amount), Leg(source, "EUR", -amount)]
    )


async def setup(url: str, cards: int) -> tuple[list[str], list[str], uuid.UUID]:
    """`cards` cards over cards/2 clients, and the race's client with two cards."""
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            plan = Plan(
                name="Bench",
                monthly_fee=0,
                cards_included=10,
                max_active_cards=10,
                card_issue_fee=0,
                topup_fee_bps=0,
                fx_fee_bps=150,
            )
            session.add(plan)
            await session.flush()

            async def client_with_cards(n: int, funds: int) -> tuple[uuid.UUID, list[str]]:
                client = Client(external_user_id=f"web_bench_{uuid.uuid4().hex[:12]}")
                client.plan_id = plan.id
                session.add(client)
                await session.flush()
                await _credit(session, client.id, funds)
                ids = [f"card_{uuid.uuid4().hex[:16]}" for _ in range(n)]
                for issuer_card_id in ids:
                    session.add(
                        Card(
                            client_id=client.id,
                            issuer="sandbox",
                            issuer_card_id=issuer_card_id,
                            currency="EUR",
                            monthly_limit=10_000_000,
                            spent_this_month=0,
                            status="active",
                        )
                    )
                return client.id, ids

            spread: list[str] = []
            for _ in range(max(1, cards // 2)):
                spread += (await client_with_cards(2, FUNDS))[1]
            race_client, race_cards = await client_with_cards(2, RACE_FUNDS)
        return spread, race_cards, race_client
    finally:
        await db.dispose()


def signed_request(card_id: str, amount: int, foreign: bool) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": f"authreq_{uuid.uuid4().hex[:12]}",
            "transaction_id": f"tx_{uuid.uuid4().hex}",
            "card_id": card_id,
            "billing_amount": f"{amount // 100}.{amount % 100:02d}",
            "billing_currency": "EUR",
            "transaction_amount": f"{amount // 100}.{amount % 100:02d}",
            "transaction_currency": "USD" if foreign else "EUR",
            "merchant": {"name": "Bench Shop", "mcc": "5999", "country": "DE"},
            "three_ds_authenticated": False,
            "created_at": datetime.now(UTC).isoformat(),
        },
        separators=(",", ":"),
    ).encode()
    headers = signing.sign([SECRET], body, int(time.time()))
    headers["Content-Type"] = "application/json"
    return body, headers


def prepared(cards: list[str], count: int, seed: int) -> list[Request]:
    """`count` signed authorizations over the cards, 1 to 50 EUR, one in five abroad."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible spread, not a secret
    out = []
    for _ in range(count):
        body, headers = signed_request(
            rng.choice(cards), rng.randint(100, 5_000), rng.random() < 0.2
        )
        out.append(Request("POST", PATH, body, headers))
    return out


def decision(status: int, answer: bytes) -> str:
    return str(json.loads(answer).get("response_code")) if status == 200 else f"http_{status}"


async def server_side(base_url: str) -> str:
    """The server's own latency histogram of the route (from request in to response out, the
    generator's queueing and client overhead left out): the share within each bound."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    pattern = re.compile(
        r'http_request_duration_seconds_bucket\{le="([^"]+)",method="POST",'
        r'route="/api/v1/issuer/\{provider\}/authorize"\} ([0-9.e+]+)'
    )
    buckets = {le: float(n) for le, n in pattern.findall(text)}
    total = buckets.get("+Inf", 0.0)
    if not total:
        return "server side: no histogram found"
    shares = "  ".join(
        f"<= {float(le) * 1000:.0f} ms {100 * buckets[le] / total:.1f}%"
        for le in ("0.01", "0.025", "0.05", "0.1", "0.25", "1.0")
        if le in buckets
    )
    return f"server side (warm-up included, {total:.0f} requests): {shares}"


async def race(base_url: str, url: str, cards: list[str], client_id: uuid.UUID, n: int) -> bool:
    """n concurrent authorizations of RACE_AMOUNT on one wallet of RACE_FUNDS."""
    requests = [signed_request(cards[i % 2], RACE_AMOUNT, False) for i in range(n)]
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        answers = await asyncio.gather(
            *(http.post(PATH, content=body, headers=headers) for body, headers in requests)
        )
    approved = sum(1 for a in answers if a.status_code == 200 and a.json().get("approved"))
    errors = sum(1 for a in answers if a.status_code != 200)
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            account = await wallets.wallet(session, client_id, "EUR")
            held = await session.scalar(
                select(func.coalesce(func.sum(LedgerHold.amount), 0)).where(
                    LedgerHold.account_id == account, LedgerHold.status == "held"
                )
            )
            rows = await session.scalar(
                select(func.count())
                .select_from(CardTransaction)
                .where(CardTransaction.client_id == client_id)
            )
            balance = (await wallets.balances(session, client_id))["EUR"]
            report = await wallets.check(session)
    finally:
        await db.dispose()
    expected = RACE_FUNDS // RACE_AMOUNT
    ok = (
        approved * RACE_AMOUNT <= RACE_FUNDS
        and int(held or 0) == approved * RACE_AMOUNT
        and balance.available >= 0
        and approved == expected
        and errors == 0
        and rows == n
        and report.ok
    )
    print(
        f"race: {n} concurrent authorizations of {RACE_AMOUNT / 100:.2f} EUR on one wallet of "
        f"{RACE_FUNDS / 100:.2f} EUR (2 cards): {approved} approved (expected {expected}), "
        f"held {int(held or 0) / 100:.2f} EUR, available {balance.available / 100:.2f} EUR, "
        f"{errors} HTTP errors, {rows} rows, ledger check {'ok' if report.ok else 'FAILED'}: "
        f"{'never overdrawn' if ok else 'FAILED'}",
        flush=True,
    )
    return ok


async def main(args: argparse.Namespace) -> None:
    config = ServerConfig(
        workers=args.workers,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        address_pool=20,
    )
    print(
        f"POST {PATH}: signed authorizations arriving at "
        f"{', '.join(f'{r:g}' for r in args.rates)} per second, {args.seconds:g} s each (open "
        f"loop), over {args.cards} cards ({args.cards // 2} clients), raw HTTP/1.1 generator, "
        f"{os.cpu_count()} CPUs shared by generator, server and PostgreSQL\n"
        f"server: paywarden serve --no-worker, workers={config.workers}, db pool "
        f"{config.pool_size}+{config.max_overflow} per worker",
        flush=True,
    )
    issuer_env = {"ISSUER_WEBHOOK_SECRETS": SECRET, "ISSUER_API_KEY": "bench-issuer-key"}
    async with served(config, **issuer_env) as run:
        spread, race_cards, race_client = await setup(run.url, args.cards)
        warm = prepared(spread, 400, seed=1)
        await open_loop.run(run.base_url, warm, 100, decision)  # warm-up, not counted
        results = []
        for n, rate in enumerate(args.rates):
            batch = prepared(spread, int(rate * args.seconds), seed=7 + n)
            results.append(await open_loop.run(run.base_url, batch, rate, decision))
            print(results[-1].line(), flush=True)
        print(open_loop.highest_within(results, TARGET_P99_MS), flush=True)
        if config.workers == 1:  # each process counts its own requests
            print(await server_side(run.base_url), flush=True)
        raced = await race(run.base_url, run.url, race_cards, race_client, args.race)
    if not raced:
        sys.exit(1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    open_loop.add_arguments(parser, rates=(100, 200, 400), seconds=60)
    parser.add_argument("--cards", type=int, default=400, help="cards (two per client)")
    parser.add_argument("--race", type=int, default=200, help="concurrent requests on one wallet")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--pool-size", type=int, default=10, help="DB_POOL_SIZE per worker")
    parser.add_argument("--max-overflow", type=int, default=20, help="DB_MAX_OVERFLOW per worker")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
