"""A worker SIGKILLed while it dispatches 1,000 webhooks, then restarted, delivers every event at
least once; the only repeats are the deliveries in flight at the kill, and a receiver
deduplicates them by `webhook-id`.

Both workers are real `paywarden worker` processes sharing the test database; the receiver is
served over real HTTP in the test's event loop.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select, update

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Merchant, WebhookDelivery
from paywarden.models.webhooks import ORDER_EXPIRED
from paywarden.orders import service as orders
from paywarden.subscribers import message
from paywarden.webhooks import service as webhooks
from paywarden.webhooks.service import STALE_CLAIM
from tests.factories import create_merchant
from tests.servers import free_socket, serve
from tests.workers import start_worker, tail, until

EVENTS = 1000
ORDERS = 20  # the events are spread over these orders (50 each)
KILL_AFTER = 150  # requests the receiver has seen when the first worker is killed
RECEIVER_DELAY = 0.005  # seconds per answer, so the kill lands mid-batch
SECRET = "whsec-test-secret"


class Hooks:
    """The merchant's receiver: every request's webhook-id, in arrival order. It SIGKILLs
    `victim` on receiving request number KILL_AFTER, before answering it: the kill lands while
    that delivery (and whatever else the worker has claimed) is in flight."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.url = ""
        self.victim: asyncio.subprocess.Process | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks")
        async def hook(request: Request) -> Response:
            await request.body()
            self.ids.append(request.headers["webhook-id"])
            if len(self.ids) == KILL_AFTER and self.victim is not None:
                self.victim.send_signal(signal.SIGKILL)
            await asyncio.sleep(RECEIVER_DELAY)
            return Response("ok")

        return app


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    rec = Hooks()
    async for base in serve(rec.app(), lifespan="off"):
        rec.url = f"{base}/hooks"
        yield rec


async def enqueue_events(app: FastAPI, db: Database, url: str) -> set[str]:
    """ORDERS orders and EVENTS `order.expired` events with one delivery each, in one
    transaction; returns the event ids (`order.expired` changes no order when delivered)."""
    shop = await create_merchant(db, webhook_secret=SECRET, webhook_url=url)
    gateway = app.state.gateway
    ids: set[str] = set()
    async with db.transaction() as session:
        merchant = await session.get(Merchant, shop.merchant.id)
        assert merchant is not None
        made = []
        for n in range(ORDERS):
            new = orders.NewOrder(f"order-{n}", 1_000_000, None, 86_400, None)
            order, _ = await orders.create(session, gateway, merchant, new)
            made.append(order)
        for n in range(EVENTS):
            change = orders.changed(made[n % ORDERS], ORDER_EXPIRED, gateway.public_base_url)
            event = await webhooks.enqueue(session, message(change))
            ids.add(str(event.id))
    return ids


async def by_status(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        return dict(rows.all())


async def test_killed_worker_loses_nothing_and_repeats_only_what_was_in_flight(
    app: FastAPI, db: Database, database_url: str, hooks: Hooks, tmp_path: Path
) -> None:
    event_ids = await enqueue_events(app, db, hooks.url)
    assert len(event_ids) == EVENTS
    assert await by_status(db) == {"pending": EVENTS}
    refused = free_socket()  # bound, never listening: the scanner's TronGrid refuses at once
    trongrid_url = f"http://127.0.0.1:{refused.getsockname()[1]}"
    log = tmp_path / "worker.log"
    first = second = None
    try:
        # The other loops are harmless: the scanner's TronGrid refuses connections (one failed
        # pass a minute), nothing expires, the address pool is already full.
        first = hooks.victim = await start_worker(
            database_url, trongrid_url, log, SCAN_INTERVAL_SECONDS="60"
        )

        try:
            code = await asyncio.wait_for(first.wait(), 30)
        except TimeoutError:
            pytest.fail(f"no kill at request {KILL_AFTER}; worker output:\n{tail(log)}")
        assert code == -signal.SIGKILL, tail(log)
        hooks.victim = None
        received_before = Counter(hooks.ids)
        last_before_kill = hooks.ids[KILL_AFTER - 1]
        assert len(received_before) < EVENTS, "the kill came after the last webhook"

        # What the dead worker claimed and never recorded: its `delivering` rows.
        async with db.transaction() as session:
            in_flight = {
                str(event_id)
                for event_id in await session.scalars(
                    select(WebhookDelivery.event_id).where(WebhookDelivery.status == "delivering")
                )
            }
            # The passage of time: STALE_CLAIM later these claims are stale and go back to
            # pending at the next pass. Moving the claim time back stands for waiting a minute.
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status == "delivering")
                .values(next_attempt_at=utcnow() - STALE_CLAIM - timedelta(seconds=1))
            )
        assert last_before_kill in in_flight

        second = await start_worker(database_url, trongrid_url, log, SCAN_INTERVAL_SECONDS="60")

        async def all_delivered() -> bool:
            return len(set(hooks.ids)) == EVENTS and await by_status(db) == {"delivered": EVENTS}

        await until(all_delivered, 60, "every delivery to be delivered", log)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
        refused.close()

    counts = Counter(hooks.ids)
    assert set(counts) == event_ids  # every event arrived; nothing else did
    repeated = {event_id for event_id, n in counts.items() if n > 1}
    # Sent at most twice; repeated exactly when the dead worker had it in flight (claimed, not
    # recorded) and the receiver had already seen it. Deduplicating by webhook-id undoes them.
    assert max(counts.values()) <= 2
    assert repeated == in_flight & set(received_before)
    assert await by_status(db) == {"delivered": EVENTS}
    print(  # shown with -s: how the kill landed
        f"received before the kill: {sum(received_before.values())}, in flight at the kill: "
        f"{len(in_flight)}, repeated: {len(repeated)}, total requests: {len(hooks.ids)}"
    )
