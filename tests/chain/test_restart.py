"""A scanner killed mid-block and restarted across a reorg misses no payment and counts none
twice.

The scanner runs in real `paywarden worker` processes sharing the test database. They reach the
devnet through a small TronGrid proxy served over real HTTP, which SIGKILLs the first worker when
it asks for a given block's transactions: the kill lands mid-pass, one block of the pass read and
the next half asked for. While no worker runs, the devnet replaces the blocks above the
solidified one (some payments vanish, one is sent again in a new block); a second worker then
takes over from the cursor in the database.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from paywarden.models import ChainTransfer, Order, OrderEvent, ScannerState
from tests.chain.conftest import Chain
from tests.factories import create_merchant, create_payment
from tests.servers import serve
from tests.workers import start_worker, until

USDT = 1_000_000


class Proxy:
    """TronGrid in front of the devnet; kills `victim` when it asks for block `kill_at`'s
    transaction infos, before answering."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.kill_at: int | None = None
        self.victim: asyncio.subprocess.Process | None = None
        self.killed = asyncio.Event()
        self.url = ""
        self.http = httpx.AsyncClient(timeout=10)

    def app(self) -> FastAPI:
        app = FastAPI()
        http = self.http

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def forward(path: str, request: Request) -> Response:
            body = await request.body()
            if (
                path.endswith("gettransactioninfobyblocknum")
                and self.victim is not None
                and self.kill_at is not None
                and (await request.json()).get("num") == self.kill_at
            ):
                self.victim.send_signal(signal.SIGKILL)
                self.killed.set()
            upstream = await http.request(
                request.method,
                f"{self.upstream}/{path}",
                params=request.query_params,
                content=body,
                headers={"content-type": request.headers.get("content-type", "")},
            )
            return Response(upstream.content, upstream.status_code, media_type="application/json")

        return app


@pytest.fixture
async def proxy(chain: Chain) -> AsyncIterator[Proxy]:
    p = Proxy(chain.devnet.url)
    async with p.http:
        async for base in serve(p.app(), lifespan="off"):
            p.url = base
            yield p


# Blocks come on demand (DEVNET_BLOCK_SECONDS=0): the worker polls every interval.
SCANNER = {
    "SCAN_START_BLOCK": "0",
    "SCAN_BATCH_BLOCKS": "2",
    "SCAN_INTERVAL_SECONDS": "0.1",
    "DEVNET_BLOCK_SECONDS": "0",
}


async def test_killed_mid_block_and_restarted_across_a_reorg(
    chain: Chain, proxy: Proxy, database_url: str, tmp_path: Path
) -> None:
    # Its webhooks have nowhere to go: the test reaches no outside host.
    shop = await create_merchant(chain.db, "Quiet shop", webhook_url=None)
    amounts = [3, 4, 5, 6, 7, 8, 9, 10]
    orders = [
        await create_payment(chain.api, shop, external_id=f"o{n}", amount=str(a))
        for n, a in enumerate(amounts)
    ]
    ids = [uuid.UUID(o["id"]) for o in orders]

    async def pay(n: int) -> str:
        return await chain.pay(orders[n]["address"], amounts[n] * USDT)

    # Orders 0..5 paid in blocks 1..6 (the devnet solidifies 3 blocks under the head).
    for n in range(6):
        await pay(n)
        await chain.devnet.mine()
    log = tmp_path / "worker.log"
    first = second = None
    try:
        first = proxy.victim = await start_worker(database_url, proxy.url, log, **SCANNER)

        async def cursor() -> int:
            async with chain.db.transaction() as session:
                state = await session.scalar(select(ScannerState))
                return state.last_block if state else -1

        async def at_head() -> bool:
            return await cursor() == chain.devnet.chain.head.number

        await until(at_head, 60, "the first worker to reach the head", log)
        statuses = await status_of(chain, ids)
        assert statuses[:3] == ["confirmed"] * 3  # blocks 1..3 are solidified
        assert statuses[3:6] == ["confirming"] * 3

        # Blocks 7 and 8 pay orders 6 and 7; the worker dies asking for block 8 (block 7 read).
        # Both blocks at once (the devnet is served from this event loop: no await, no pass).
        proxy.kill_at = 8
        for n in (6, 7):
            chain.devnet.chain.pay(orders[n]["address"], amounts[n] * USDT)
            chain.devnet.chain.mine()
        await asyncio.wait_for(proxy.killed.wait(), 30)
        assert await first.wait() == -signal.SIGKILL
        assert await cursor() == 6  # the dead pass wrote nothing

        # While no worker runs: blocks 6..8 are replaced and their payments vanish (orders 5,
        # 6 and 7; order 5's was stored `seen`); order 6 is paid again, in a new block.
        await chain.reorg(3)
        again = await pay(6)
        await chain.devnet.mine(4)  # everything up to the new payment is solidified

        second = await start_worker(database_url, chain.devnet.url, log, **SCANNER)

        async def settled() -> bool:
            return (
                await cursor() == chain.devnet.chain.head.number
                and (await status_of(chain, ids))[6] == "confirmed"
            )

        await until(settled, 60, "the second worker to settle the chain", log)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    statuses = await status_of(chain, ids)
    assert statuses == ["confirmed"] * 5 + ["pending", "confirmed", "pending"]
    async with chain.db.transaction() as session:
        rows = (await session.scalars(select(Order).where(Order.id.in_(ids)))).all()
        received = {row.id: row.amount_received for row in rows}
        transfers = (await session.scalars(select(ChainTransfer))).all()
        events = (
            await session.execute(
                select(OrderEvent.order_id, OrderEvent.event_type).where(
                    OrderEvent.order_id.in_(ids)
                )
            )
        ).all()
    paid = [0, 1, 2, 3, 4, 6]
    assert [received[ids[n]] for n in range(8)] == [
        amounts[n] * USDT if n in paid else 0 for n in range(8)
    ]
    # Stored once each: the six that count, final; order 5's vanished one, dropped; order 7's
    # was never stored (the worker died before it could).
    by_order = Counter((t.order_id, t.status) for t in transfers)
    assert by_order == Counter({**{(ids[n], "final"): 1 for n in paid}, (ids[5], "dropped"): 1})
    assert any(t.tx_hash == again and t.status == "final" for t in transfers)
    kinds = Counter(events)
    for n in paid:
        assert kinds[(ids[n], "confirmed")] == 1
        assert kinds[(ids[n], "payment_seen")] == 1
    assert kinds[(ids[5], "payment_dropped")] == 1
    assert kinds[(ids[5], "confirmed")] == 0


async def status_of(chain: Chain, ids: list[uuid.UUID]) -> list[str]:
    async with chain.db.transaction() as session:
        rows = (
            await session.execute(select(Order.id, Order.status).where(Order.id.in_(ids)))
        ).all()
    found = dict(rows)
    return [found[i] for i in ids]
