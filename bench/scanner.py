"""Benchmark: the chain scanner with 100,000 open orders and devnet blocks of 1,000 USDT transfers.

A devnet runs as its own process (`paywarden devnet`, blocks mined on demand); the scanner runs
here, exactly as the worker runs it, over real HTTP through the gateway's TronGrid client (with
a transport that counts its calls) against a fresh migrated database holding one merchant and
`--open-orders` pending orders, each with its own allocated deposit address. Every block holds
`--per-block` real signed USDT transfers: a share `--ours` pays open orders their exact amount,
the rest go to strangers' addresses.

1. Backfill: `--blocks` full blocks (then enough empty ones to solidify them all) wait on the
   chain, and the scanner reads them pass after pass, as after downtime. Prints transfers/s
   (overall and the median pass) and TronGrid calls per block, and checks that every payment
   was stored once and confirmed.
2. At the tip: the worker's scan loop runs (SCAN_INTERVAL_SECONDS, default 1 s) while a full
   block is mined every `--block-seconds`. Prints calls per block, and for each payment the time
   from the moment its block became solidified to its order's `confirmed` event: target, within
   one poll interval.

Targets: at least 2,000 transfers/s; at most 3 calls per block whatever the open orders.

    .venv/bin/python bench/scanner.py [--open-orders 100000] [--blocks 30] [--per-block 1000]
        [--ours 0.1] [--batch-blocks 10] [--tip-blocks 30] [--block-seconds 3]
        [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import base58
import httpx
from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum
from sqlalchemy import func, insert, select

from paywarden import subscribers, worker
from paywarden.audit.context import CLI
from paywarden.chain import tasks
from paywarden.config import Settings
from paywarden.context import WorkerContext, gateway_context
from paywarden.kit.db import Database
from paywarden.kit.logging import configure_logging
from paywarden.kit.migrations import upgrade
from paywarden.kit.time import utcnow
from paywarden.merchants import service as merchants
from paywarden.models import ChainTransfer, DepositAddress, Order, OrderEvent, ScannerState
from paywarden.tron.client import TronGridClient
from paywarden.tron.keys import account_xpub

sys.path.insert(0, str(Path(__file__).parent))
from order_create import (  # sibling benchmark plumbing
    BENCH_KEYS,
    BIN,
    free_port,
    fresh_database,
    percentile,
)

SOLIDIFY_DEPTH = 19  # mainnet's
TARGET_RATE = 2_000
TARGET_CALLS = 3


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class OpenOrder:
    id: uuid.UUID
    address: str
    amount: int


@dataclass
class Load:
    """What the generated blocks hold: transfers per block and which orders were paid where."""

    transfers: dict[int, int] = field(default_factory=dict)
    paid: dict[int, list[OpenOrder]] = field(default_factory=dict)


def stranger() -> str:
    return base58.b58encode_check(b"\x41" + secrets.token_bytes(20)).decode()


@contextlib.contextmanager
def devnet_process(port: int, workdir: Path) -> Iterator[str]:
    log = (workdir / "devnet.log").open("wb")
    command = [str(BIN / "paywarden"), "devnet", "--port", str(port)]
    command += ["--block-seconds", "0", "--solidify-depth", str(SOLIDIFY_DEPTH)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield f"http://127.0.0.1:{port}/devnet"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


async def wait_devnet(control: httpx.AsyncClient) -> dict:
    for _ in range(200):
        with contextlib.suppress(httpx.TransportError):
            response = await control.get("/state")
            if response.status_code == 200:
                return response.json()
        await asyncio.sleep(0.1)
    raise RuntimeError("the devnet did not start")


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    if kind == "postgres":
        async with fresh_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"


async def load_orders(db: Database, count: int) -> list[OpenOrder]:
    """One merchant and `count` pending orders, each holding its own allocated address."""
    async with db.transaction() as session:
        made = await merchants.create(
            session, name="bench shop", webhook_secret="x" * 32, webhook_url=None, actor=CLI
        )
        merchant_id = made.merchant.id
    now = utcnow()
    orders: list[OpenOrder] = []
    for start in range(0, count, 5_000):
        addresses, rows = [], []
        for i in range(start, min(count, start + 5_000)):
            order = OpenOrder(uuid.uuid4(), stranger(), 1_000_000 + (i % 5_000) * 10_000)
            orders.append(order)
            address_id = uuid.uuid4()
            addresses.append(
                {
                    "id": address_id,
                    "xpub_id": "bench",
                    "derivation_index": i,
                    "address": order.address,
                    "status": "allocated",
                    "order_id": order.id,
                    "available_at": now,
                    "allocated_at": now,
                    "created_at": now,
                }
            )
            rows.append(
                {
                    "id": order.id,
                    "merchant_id": merchant_id,
                    "external_id": f"bench-{i}",
                    "request_hash": secrets.token_hex(32),
                    "address_id": address_id,
                    "address": order.address,
                    "amount_expected": order.amount,
                    "amount_received": 0,
                    "status": "pending",
                    "created_at": now,
                    "created_day": now.date(),
                    "expires_at": now + timedelta(days=1),
                    "updated_at": now,
                }
            )
        async with db.transaction() as session:
            await session.execute(insert(DepositAddress), addresses)
            await session.execute(insert(Order), rows)
    return orders


async def fill_block(
    control: httpx.AsyncClient, unpaid: list[OpenOrder], per_block: int, ours: float
) -> list[OpenOrder]:
    """Queue one block's transfers on the devnet (mined by the caller); returns the orders paid."""
    paid = [unpaid.pop() for _ in range(min(len(unpaid), round(per_block * ours)))]
    payments = [{"to": o.address, "amount": o.amount} for o in paid]
    payments += [
        {"to": stranger(), "amount": random.randint(1, 10**9)}  # noqa: S311
        for _ in range(per_block - len(paid))
    ]
    random.shuffle(payments)
    for start in range(0, len(payments), 5_000):
        response = await control.post("/pay-batch", json={"payments": payments[start:][:5_000]})
        if response.status_code != 200:
            raise RuntimeError(f"devnet refused the payments: {response.text}")
    return paid


async def mine(control: httpx.AsyncClient, blocks: int = 1) -> int:
    response = await control.post("/mine", json={"blocks": blocks})
    response.raise_for_status()
    return int(response.json()["head"])


async def until_read(db: Database, key: str, block: int, *, deadline: float) -> None:
    """Wait until the scanner's cursor reaches `block`, or until `deadline` (epoch seconds)."""
    while time.time() < deadline:
        async with db.transaction() as session:
            state = await session.get(ScannerState, key)
        if state is not None and state.last_block >= block:
            return
        await asyncio.sleep(0.02)


async def count(db: Database, query: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(query) or 0)  # type: ignore[arg-type]


async def backfill(
    args: argparse.Namespace, db: Database, control: httpx.AsyncClient, settings: Settings
) -> tuple[float, float]:
    gateway = gateway_context(settings)
    assert gateway.scanner is not None
    unpaid = list(args.orders)
    load = Load()
    t0 = time.perf_counter()
    for _ in range(args.blocks):
        paid = await fill_block(control, unpaid, args.per_block, args.ours)
        head = await mine(control)
        load.transfers[head], load.paid[head] = args.per_block, paid
    last_full = head
    head = await mine(control, SOLIDIFY_DEPTH)
    args.unpaid = unpaid
    print(
        f"  devnet: {args.blocks} blocks of {args.per_block} transfers made in "
        f"{time.perf_counter() - t0:.1f} s (blocks {last_full - args.blocks + 1}..{last_full}, "
        f"solidified by {head})"
    )
    counting = CountingTransport()
    client = TronGridClient([settings.trongrid_url or ""], transport=counting)
    cfg = gateway.scanner
    rates: list[float] = []
    blocks_read = 0
    start = time.perf_counter()
    async with client:
        while True:
            t = time.perf_counter()
            result = await tasks.scan_pass(db, client, cfg, gateway)
            elapsed = time.perf_counter() - t
            if result is None or result.blocks == 0:
                break
            blocks_read += result.blocks
            async with db.transaction() as session:
                cursor = (await session.get(ScannerState, cfg.key)).last_block  # type: ignore[union-attr]
            done = sum(n for b, n in load.transfers.items() if cursor - result.blocks < b <= cursor)
            if done:
                rates.append(done / elapsed)
    total = time.perf_counter() - start
    calls = counting.calls - 2  # the last, empty pass
    transfers = sum(load.transfers.values())
    paid = sum(len(v) for v in load.paid.values())
    stored = await count(db, select(func.count()).select_from(ChainTransfer))
    confirmed = await count(
        db, select(func.count()).select_from(Order).where(Order.status == "confirmed")
    )
    rate = transfers / total
    print(
        f"  scanner: {transfers:,} transfers ({paid:,} ours) in {blocks_read} blocks, "
        f"{total:.2f} s: {rate:,.0f} transfers/s overall, median pass "
        f"{statistics.median(rates):,.0f}/s (passes of {cfg.batch_blocks} blocks)"
    )
    per_block = calls / blocks_read
    print(f"  TronGrid calls: {calls} for {blocks_read} blocks = {per_block:.2f} per block")
    ok = stored == paid and confirmed == paid
    verdict = "ok" if ok else "MISMATCH"
    print(f"  stored {stored:,} transfers, {confirmed:,} orders confirmed: {verdict}")
    if not ok:
        raise SystemExit(1)
    return rate, per_block


async def at_the_tip(
    args: argparse.Namespace, db: Database, control: httpx.AsyncClient, settings: Settings
) -> tuple[float | None, float]:
    gateway = gateway_context(settings)
    assert gateway.scanner is not None
    interval = gateway.scanner.interval_seconds
    counting = CountingTransport()
    client = TronGridClient([settings.trongrid_url or ""], transport=counting)
    ctx = WorkerContext(db=db, gateway=gateway, trongrid=client)
    loop = next(loop for loop in worker.LOOPS if loop.name == "scan_chain")
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run_loops(ctx, stop, [loop]))
    await asyncio.sleep(interval * 2)  # the loop reaches the head
    calls_before = 0
    mined_at: dict[int, float] = {}
    paid_in: dict[int, list[OpenOrder]] = {}
    first = last = 0
    next_block = time.time()
    cfg = gateway.scanner
    for _ in range(args.tip_blocks):
        paid = await fill_block(control, args.unpaid, args.per_block, args.ours)
        await asyncio.sleep(max(0.0, next_block - time.time()))
        before = time.time()  # the block exists no earlier than this: latencies err long
        calls_before = calls_before or counting.calls  # from the first block on
        head = await mine(control)
        mined_at[head], paid_in[head] = before, paid
        first, last = first or head, head
        next_block = before + args.block_seconds
        # The devnet answers on one thread, and signing the next block's 1,000 transfers keeps
        # it busy for a good part of a second: queued while the scanner reads this block, they
        # would time the load generator, not the scanner (TronGrid serves readers regardless).
        await until_read(db, cfg.key, head, deadline=next_block - 1.0)
    while True:  # until the scanner has read the last block: the calls it took, no idle tail
        async with db.transaction() as session:
            state = await session.get(ScannerState, cfg.key)
        if state is not None and state.last_block >= last:
            break
        await asyncio.sleep(0.05)
    calls = counting.calls - calls_before
    stop.set()
    await runner
    await client.aclose()
    latencies: list[float] = []
    async with db.transaction() as session:
        for block, orders in paid_in.items():
            solid_at = mined_at.get(block + SOLIDIFY_DEPTH)
            if solid_at is None or not orders:
                continue
            rows = await session.execute(
                select(OrderEvent.created_at).where(
                    OrderEvent.order_id.in_([o.id for o in orders]),
                    OrderEvent.event_type == "confirmed",
                )
            )
            stamps = [row[0].timestamp() for row in rows.all()]
            if len(stamps) != len(orders):
                print(f"  block {block}: {len(stamps)} of {len(orders)} orders confirmed: MISSED")
                raise SystemExit(1)
            latencies += [stamp - solid_at for stamp in stamps]
    blocks = last - first + 1
    print(
        f"  tip: {blocks} blocks of {args.per_block} transfers, one every "
        f"{args.block_seconds:g} s; TronGrid calls {calls} = {calls / blocks:.2f} per block"
    )
    if latencies:
        print(
            f"  solidified -> confirmed, {len(latencies)} payments: median "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
            f"{percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"(poll interval {interval * 1000:.0f} ms)"
        )
    else:
        print(f"  no payment solidified during the tip phase (needs > {SOLIDIFY_DEPTH} blocks)")
    return (max(latencies) if latencies else None), calls / blocks


async def main(args: argparse.Namespace) -> None:
    subscribers.compose()  # the scanner's confirmations publish order events
    with tempfile.TemporaryDirectory(prefix="pw-bench-scan-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        with devnet_process(port, workdir) as devnet_url:
            async with (
                httpx.AsyncClient(base_url=devnet_url, timeout=120) as control,
                database(args.database, workdir) as url,
            ):
                state = await wait_devnet(control)
                customer = state["customers"][0]["address"]
                # Enough TRX and USDT for every transfer the run makes.
                funds = {"address": customer, "trx": 10**9 * 10**6, "usdt": 10**9 * 10**6}
                (await control.post("/faucet", json=funds)).raise_for_status()
                start = await mine(control) + 1
                settings = Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    env="development",
                    database_url=url,
                    secret_key=secrets.token_urlsafe(48),
                    var_dir=workdir / "var",
                    # The bench never derives (its addresses are random); XPUB must be valid.
                    xpub=account_xpub(
                        str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12))
                    ),
                    demo_data=False,
                    tron_network="devnet",
                    trongrid_url=devnet_url,
                    scan_start_block=start,
                    scan_batch_blocks=args.batch_blocks,
                    log_level="WARNING",
                    admin_email=None,
                    admin_password=None,
                    redis_url=None,
                )
                db = Database(url, keyset=BENCH_KEYS)
                try:
                    await upgrade(db.engine)
                    t0 = time.perf_counter()
                    args.orders = await load_orders(db, args.open_orders)
                    print(
                        f"{args.database}: {args.open_orders:,} open orders loaded in "
                        f"{time.perf_counter() - t0:.1f} s"
                    )
                    print("1. backfill")
                    rate, calls = await backfill(args, db, control, settings)
                    worst: float | None = None
                    tip_calls = 0.0
                    if args.tip_blocks:
                        print("2. at the tip")
                        worst, tip_calls = await at_the_tip(args, db, control, settings)
                finally:
                    await db.dispose()
    interval = settings.scan_interval_seconds
    print(
        f"targets: >= {TARGET_RATE:,} transfers/s: {rate:,.0f} "
        f"[{'met' if rate >= TARGET_RATE else 'MISSED'}]; <= {TARGET_CALLS} calls per block: "
        f"{calls:.2f} backfilling, {tip_calls:.2f} at the tip "
        f"[{'met' if max(calls, tip_calls) <= TARGET_CALLS else 'MISSED'}]; confirmed within "
        f"one poll interval ({interval:g} s): "
        + (
            f"worst {worst:.2f} s [{'met' if worst <= interval else 'MISSED'}]"
            if worst is not None
            else "not measured (no payment solidified at the tip)"
        )
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-orders", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=30, help="full blocks to backfill")
    parser.add_argument("--per-block", type=int, default=1_000, help="USDT transfers per block")
    parser.add_argument("--ours", type=float, default=0.1, help="share paying open orders")
    parser.add_argument("--batch-blocks", type=int, default=10, help="SCAN_BATCH_BLOCKS")
    parser.add_argument("--tip-blocks", type=int, default=30)
    parser.add_argument("--block-seconds", type=float, default=3.0, help="TRON's pace: 3 s")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    needed = round(args.per_block * args.ours) * (args.blocks + args.tip_blocks)
    if needed > args.open_orders:
        parser.error(f"--open-orders must be at least {needed} for these blocks")
    return args


if __name__ == "__main__":
    configure_logging(json=False, level="WARNING")  # a log line per transfer would be timed too
    asyncio.run(main(parse_args()))
