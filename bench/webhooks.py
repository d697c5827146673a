"""Benchmark: webhook delivery, 10,000 `order.confirmed` webhooks to a local receiver.

Each run makes a fresh database (SQLite in a temporary directory, or a PostgreSQL database
`paywarden_bench_webhooks` made and dropped on the server of `--database-url`), migrates it with
the project's migrations, and writes a merchant and N confirmed orders, each with its pending
`order.confirmed` webhook: the rows `orders.transition` and `webhooks.enqueue` write (order,
`confirmed` event, webhook event with its payload, delivery), added in bulk for setup speed.
The receiver runs in a separate process (uvicorn, real HTTP on 127.0.0.1): it verifies every
request's Standard Webhooks signature with the `standardwebhooks` package, counts unique
webhook-ids, and answers 500 at random to `--fail-rate` of the requests. This process then runs
the dispatcher exactly as `paywarden worker` does (`worker.run_loops` with the dispatch_webhooks
loop: a pass, a second's sleep, a pass ...) until every delivery is delivered, and prints
deliveries/s (the median of 1-second windows, and N / total time), this process's RSS at 10%,
50% and 100% of the deliveries (memory stays flat), and the database's state at the end.
It exits non-zero when a delivery is lost, a signature fails, or an order is not `completed`.
Target: at least 500 deliveries/s.

    .venv/bin/python bench/webhooks.py [--deliveries 10000] [--runs 3] [--fail-rate 0]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
        [--retry-delay 0] [--max-attempts 30] [--log-level WARNING]

With `--fail-rate 0.5` the retry schedule is `--max-attempts` - 1 delays of `--retry-delay`
seconds (WebhookPolicy), so every delivery gets through in the end; it prints how many attempts
that took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from paywarden import worker
from paywarden.addresses.service import Pool
from paywarden.audit.context import CLI
from paywarden.context import GatewayContext, WorkerContext
from paywarden.kit.crypto import KeySet
from paywarden.kit.db import Database
from paywarden.kit.logging import configure_logging
from paywarden.kit.migrations import upgrade
from paywarden.kit.time import utcnow
from paywarden.merchants import service as merchants
from paywarden.models import (
    DepositAddress,
    Order,
    OrderEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from paywarden.models.orders import CONFIRMED
from paywarden.models.webhooks import D_PENDING, ORDER_CONFIRMED
from paywarden.orders import repository as orders_repo
from paywarden.orders import service as orders
from paywarden.subscribers import message
from paywarden.webhooks import service as webhooks
from paywarden.webhooks.service import WebhookPolicy

# Secrets at rest: merchants' webhook secrets are encrypted; the bench and its worker share a key.
KEYS = KeySet([Fernet.generate_key()])

BENCH_DB = "paywarden_bench_webhooks"
BASE_URL = "https://pay.example.com"
TARGET_RATE = 500.0  # deliveries/s
AMOUNT = 12_500_000  # micro-USDT
CHUNK = 1000  # orders written per transaction in the setup


# --- the receiver (its own process) ------------------------------------------------------------


def receiver_app(secret: str, fail_rate: float) -> object:
    """A bare ASGI app: POST verifies and counts, GET /stats reports the counts."""
    from standardwebhooks import Webhook

    verifier = Webhook(secret.encode())
    seen: set[str] = set()  # webhook-ids received
    delivered: set[str] = set()  # webhook-ids answered 2xx
    counts = {"requests": 0, "bad_signatures": 0, "answered_500": 0}

    async def app(scope: dict, receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            stats = {**counts, "unique": len(seen), "delivered": len(delivered)}
            await _answer(send, 200, json.dumps(stats).encode(), b"application/json")
            return
        body = b""
        while True:
            message = await receive()  # type: ignore[operator]
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        counts["requests"] += 1
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            verifier.verify(body, headers)
        except Exception:
            counts["bad_signatures"] += 1
            await _answer(send, 400, b"bad signature")
            return
        msg_id = headers["webhook-id"]
        seen.add(msg_id)
        if fail_rate and random.random() < fail_rate:  # noqa: S311 - a coin, not a secret
            counts["answered_500"] += 1
            await _answer(send, 500, b"try again")
            return
        delivered.add(msg_id)
        await _answer(send, 200, b"ok")

    return app


async def _answer(send: object, status: int, body: bytes, kind: bytes = b"text/plain") -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


def serve_receiver(port: int, secret: str, fail_rate: float) -> None:
    import uvicorn

    uvicorn.run(
        receiver_app(secret, fail_rate),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_receiver(port: int, secret: str, fail_rate: float) -> Iterator[str]:
    command = [sys.executable, __file__, "--serve-receiver", str(port), "--fail-rate"]
    env = {**os.environ, "BENCH_RECEIVER_SECRET": secret}
    process = subprocess.Popen(  # noqa: S603 - this file, fixed arguments
        [*command, str(fail_rate)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/stats").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the database ------------------------------------------------------------------------------


async def admin_sql(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str | None) -> AsyncIterator[str]:
    """SQLite in a temporary directory, or the PostgreSQL database BENCH_DB, made anew."""
    if admin_url is None:
        with tempfile.TemporaryDirectory(prefix="pw_bench_webhooks_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    await admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    await admin_sql(admin_url, f'CREATE DATABASE "{BENCH_DB}"')
    try:
        yield make_url(admin_url).set(database=BENCH_DB).render_as_string(hide_password=False)
    finally:
        await admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


async def load(url: str, n: int, secret: str, receiver_url: str) -> float:
    """Migrate, then a merchant and `n` confirmed orders, each with its pending
    `order.confirmed` delivery. Returns the seconds it took."""
    started = time.perf_counter()
    db = Database(url, poolclass=NullPool, keyset=KEYS)
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            made = await merchants.create(
                session,
                name="bench merchant",
                webhook_secret=secret,
                webhook_url=f"{receiver_url}/hooks",
                actor=CLI,
            )
            merchant_id = made.merchant.id
            hooks = made.merchant.webhook_url or ""
            address = DepositAddress(  # one address for all (no constraint on orders forbids it)
                xpub_id="bench",
                derivation_index=0,
                address="TBenchSharedAddress000000000000000",
                status="allocated",
                allocated_at=utcnow(),
            )
            session.add(address)
            await session.flush()
            address_id, address_text = address.id, address.address
        for first in range(0, n, CHUNK):
            async with db.transaction() as session:
                now = utcnow()
                rows = [
                    confirmed_order(i, now, merchant_id, address_id, address_text, hooks)
                    for i in range(first, min(n, first + CHUNK))
                ]
                for table in range(4):  # orders, their events, webhook events, deliveries
                    session.add_all([row[table] for row in rows])
                    await session.flush()  # foreign keys: no relationships order the inserts
                # What transition() adds to the rollup when these orders became paid.
                count = min(n, first + CHUNK) - first
                await orders_repo.bump_daily(
                    session, now.date(), 0, paid=count, received=count * AMOUNT
                )
    finally:
        await db.dispose()
    return time.perf_counter() - started


def confirmed_order(
    i: int,
    now: datetime,
    merchant_id: uuid.UUID,
    address_id: uuid.UUID,
    address: str,
    url: str,
) -> tuple[Order, OrderEvent, WebhookEvent, WebhookDelivery]:
    """The rows of an order created, paid and confirmed: the order, its `confirmed` event, and
    what webhooks.enqueue writes (the event with its payload, one pending delivery)."""
    order = Order(
        id=uuid.uuid4(),
        merchant_id=merchant_id,
        external_id=f"bench-{i}",
        request_hash=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
        address_id=address_id,
        address=address,
        amount_expected=AMOUNT,
        amount_received=AMOUNT,
        status=CONFIRMED,
        callback_url=None,
        meta=None,
        tx_hash=hashlib.sha256(f"tx-{i}".encode()).hexdigest(),
        created_at=now,
        created_day=now.date(),
        expires_at=now + timedelta(hours=1),
        updated_at=now,
    )
    confirmed = OrderEvent(
        order_id=order.id,
        event_type="confirmed",
        from_status="confirming",
        to_status=CONFIRMED,
        payload={},
    )
    event = WebhookEvent(
        id=uuid.uuid4(),
        order_id=order.id,
        merchant_id=merchant_id,
        type=ORDER_CONFIRMED,
        created_at=now,
    )
    change = orders.changed(order, ORDER_CONFIRMED, BASE_URL)
    event.payload = webhooks.body(message(dataclasses.replace(change, at=now)), event.id)
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        event_id=event.id,
        url=url,
        status=D_PENDING,
        attempt_count=0,
        next_attempt_at=now,
        one_shot=False,
        created_at=now,
    )
    return order, confirmed, event, delivery


# --- the dispatcher, as the worker runs it -----------------------------------------------------


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


@dataclass
class RunResult:
    n: int
    setup_seconds: float
    seconds: float
    windows: list[float]  # deliveries in each full second
    rss: dict[int, tuple[float, float]] = field(default_factory=dict)  # % done -> (rss, peak)
    rss_start: tuple[float, float] = (0.0, 0.0)
    receiver: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    max_attempt: int = 0

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    @property
    def window_rate(self) -> float:
        return statistics.median(self.windows) if self.windows else self.rate

    @property
    def ok(self) -> bool:
        return (
            self.deliveries == {"delivered": self.n}
            and self.orders == {"completed": self.n}
            and self.receiver.get("delivered") == self.n
            and self.receiver.get("bad_signatures") == 0
        )


async def dispatch_all(
    db: Database, policy: WebhookPolicy, receiver_url: str, n: int, result: RunResult
) -> None:
    """The worker's dispatch loop until the receiver has every webhook and the database shows
    every delivery delivered; samples progress each 0.1 s."""
    gateway = GatewayContext(
        pool=Pool(xpub="unused", min_free=0, reuse_cooldown=timedelta(0)),
        tz=ZoneInfo("UTC"),
        public_base_url=BASE_URL,
        webhooks=policy,
    )
    ctx = WorkerContext(db=db, gateway=gateway)
    loops = [next(loop for loop in worker.LOOPS if loop.name == "dispatch_webhooks")]
    stop = asyncio.Event()
    result.rss_start = rss_mb()
    started = time.perf_counter()
    running = asyncio.create_task(worker.run_loops(ctx, stop, loops))
    marks = [10, 50, 100]
    progress: list[tuple[float, int]] = [(0.0, 0)]
    try:
        async with httpx.AsyncClient(base_url=receiver_url) as client:
            while True:
                await asyncio.sleep(0.1)
                if running.done():
                    running.result()
                    raise RuntimeError("the worker loop stopped")
                stats = (await client.get("/stats")).json()
                now = time.perf_counter() - started
                progress.append((now, stats["delivered"]))
                while marks and stats["delivered"] * 100 >= marks[0] * n:
                    result.rss[marks.pop(0)] = rss_mb()
                if stats["delivered"] >= n and await delivered_count(db) >= n:
                    result.seconds = time.perf_counter() - started
                    result.receiver = stats
                    break
    finally:
        stop.set()
        await running
    result.windows = windows(progress)


def windows(progress: list[tuple[float, int]]) -> list[float]:
    """Deliveries in each whole second of the run (the last, partial second left out)."""
    rates = []
    second, at = 1.0, 0
    for t, done in progress:
        if t >= second:
            rates.append(float(done - at))
            second, at = second + 1.0, done
    return rates


async def delivered_count(db: Database) -> int:
    async with db.transaction() as session:
        query = select(func.count()).where(WebhookDelivery.status == "delivered")
        return int(await session.scalar(query) or 0)


async def final_state(db: Database, result: RunResult) -> None:
    async with db.transaction() as session:
        rows = await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        result.deliveries = dict(rows.all())  # type: ignore[arg-type]
        rows = await session.execute(select(Order.status, func.count()).group_by(Order.status))
        result.orders = dict(rows.all())  # type: ignore[arg-type]
        result.attempts = int(await session.scalar(select(func.count(WebhookAttempt.id))) or 0)
        result.max_attempt = int(
            await session.scalar(select(func.max(WebhookDelivery.attempt_count))) or 0
        )


async def one_run(args: argparse.Namespace, admin_url: str | None) -> RunResult:
    secret = "whsec-" + secrets.token_urlsafe(24)
    port = free_port()
    policy = WebhookPolicy(retry_delays=(args.retry_delay,) * (args.max_attempts - 1))
    async with fresh_database(admin_url) as url:
        with running_receiver(port, secret, args.fail_rate) as receiver_url:
            setup = await load(url, args.deliveries, secret, receiver_url)
            result = RunResult(n=args.deliveries, setup_seconds=setup, seconds=0.0, windows=[])
            db = Database(url, keyset=KEYS)  # the worker's engine: the default pool
            try:
                await dispatch_all(db, policy, receiver_url, args.deliveries, result)
                await final_state(db, result)
            finally:
                await db.dispose()
    return result


# --- output ------------------------------------------------------------------------------------


def report_run(k: int, r: RunResult) -> None:
    rss = "  ".join(f"{p}% {r.rss[p][0]:.0f} MB" for p in sorted(r.rss))
    peak = max((v[1] for v in r.rss.values()), default=0.0)
    print(
        f"run {k}: {r.n} deliveries in {r.seconds:6.2f} s = {r.rate:6.1f}/s overall, "
        f"median of {len(r.windows)} 1-s windows {r.window_rate:6.1f}/s "
        f"({r.attempts / r.seconds:.0f} attempts/s; setup {r.setup_seconds:.1f} s)\n"
        f"       RSS at start {r.rss_start[0]:.0f} MB  {rss}  (peak {peak:.0f} MB)\n"
        f"       receiver: {r.receiver.get('requests')} requests, {r.receiver.get('unique')} "
        f"unique webhook-ids, {r.receiver.get('delivered')} answered 2xx, "
        f"{r.receiver.get('answered_500')} answered 500, "
        f"{r.receiver.get('bad_signatures')} bad signatures\n"
        f"       database: deliveries {r.deliveries}, orders {r.orders}, "
        f"{r.attempts} attempts (at most {r.max_attempt} for one delivery)"
        f"{'' if r.ok else '  <-- NOT ALL DELIVERED'}",
        flush=True,
    )


async def main(args: argparse.Namespace) -> int:
    configure_logging(json=True, level=args.log_level)
    admin_url = args.database_url
    backend = "SQLite" if admin_url is None else f"PostgreSQL ({BENCH_DB})"
    print(
        f"{args.deliveries} order.confirmed webhooks on {backend}, receiver in its own process "
        f"answering 500 to {args.fail_rate:.0%} at random; retries every {args.retry_delay} s, "
        f"up to {args.max_attempts} attempts; {os.cpu_count()} CPUs",
        flush=True,
    )
    results = []
    for k in range(1, args.runs + 1):
        result = await one_run(args, admin_url)
        report_run(k, result)
        results.append(result)
    rate = statistics.median(r.rate for r in results)
    window = statistics.median(r.window_rate for r in results)
    print(
        f"median of {len(results)}: {rate:.1f} deliveries/s overall, {window:.1f}/s per 1-s "
        f"window, {statistics.median(r.seconds for r in results):.2f} s total; "
        + (
            f"target >= {TARGET_RATE:.0f}/s: {'met' if rate >= TARGET_RATE else 'NOT met'}"
            if not args.fail_rate
            else "(the rate target is for a receiver that never fails)"
        )
    )
    lost = [r for r in results if not r.ok]
    print("all delivered in every run" if not lost else f"{len(lost)} run(s) lost deliveries")
    return 1 if lost else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="orders, one webhook each")
    parser.add_argument("--runs", type=int, default=3, help="fresh database and receiver each")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL whose server gets the bench database (default: SQLite, temp dir)",
    )
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share answered 500")
    parser.add_argument("--retry-delay", type=int, default=0, help="seconds between attempts")
    parser.add_argument("--max-attempts", type=int, default=30, help="attempts per delivery")
    parser.add_argument("--log-level", default="WARNING", help="the dispatcher's log level")
    parser.add_argument("--serve-receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_receiver:
        serve_receiver(
            arguments.serve_receiver, os.environ["BENCH_RECEIVER_SECRET"], arguments.fail_rate
        )
    else:
        sys.exit(asyncio.run(main(arguments)))
