"""The dispatcher's batches: one pass drains a backlog batch after batch within its time budget,
a batch's outcomes are recorded together (each with its own rules), and an outcome that cannot
be recorded never keeps the rest of its batch from being recorded."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden import worker
from paywarden.context import WorkerContext
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Incident, Merchant, Order, WebhookAttempt, WebhookDelivery
from paywarden.models.webhooks import ORDER_EXPIRED
from paywarden.orders import service as orders
from paywarden.subscribers import message
from paywarden.webhooks import service as webhooks
from paywarden.webhooks import tasks
from paywarden.webhooks.service import Result
from tests.factories import create_merchant, create_payment
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_dispatch import SECRET, confirm, order_row, verified


async def expired_events(app: FastAPI, db: Database, url: str, count: int) -> None:
    """`count` pending `order.expired` deliveries to `url` (they change no order when sent)."""
    shop = await create_merchant(db, webhook_secret=SECRET, webhook_url=url)
    gateway = app.state.gateway
    async with db.transaction() as session:
        merchant = await session.get(Merchant, shop.merchant.id)
        assert merchant is not None
        new = orders.NewOrder("order-batch", 1_000_000, None, 86_400, None)
        order, _ = await orders.create(session, gateway, merchant, new)
        for _ in range(count):
            change = orders.changed(order, ORDER_EXPIRED, gateway.public_base_url)
            await webhooks.enqueue(session, message(change))


async def by_status(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        return dict(rows.all())  # type: ignore[arg-type]


async def test_one_worker_pass_drains_a_backlog_of_several_batches(
    app: FastAPI, db: Database, receiver: Receiver
) -> None:
    await expired_events(app, db, receiver.url("/merchant"), tasks.BATCH * 2 + 30)
    ctx = WorkerContext(db=db, gateway=app.state.gateway)
    assert await worker.dispatch_webhooks(ctx) == tasks.BATCH * 2 + 30
    assert await by_status(db) == {"delivered": tasks.BATCH * 2 + 30}
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(ids) == tasks.BATCH * 2 + 30
    assert set(ids.values()) == {1}  # each sent once
    for r in receiver.requests[:: tasks.BATCH]:
        verified(r)
    assert await worker.dispatch_webhooks(ctx) == 0


async def test_a_pass_stops_taking_batches_when_its_time_is_up(
    app: FastAPI, db: Database, receiver: Receiver
) -> None:
    await expired_events(app, db, receiver.url("/merchant"), 25)
    policy = app.state.gateway.webhooks
    assert await tasks.dispatch_due(db, policy, limit=10, pass_seconds=0) == 10
    assert await by_status(db) == {"delivered": 10, "pending": 15}
    assert await tasks.dispatch_due(db, policy, limit=10) == 15  # 10, then 5: not full
    assert await by_status(db) == {"delivered": 25}
    assert len(receiver.requests) == 25


async def test_a_batch_records_each_outcome_by_its_own_rules(
    app: FastAPI, db: Database, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers.update({"/fails": 500, "/gone": 410})
    shop = await create_merchant(db, webhook_secret=SECRET, webhook_url=receiver.url("/merchant"))
    made = {}
    for path in ("/ok", "/fails", "/gone"):
        order = await create_payment(
            client, shop, external_id=path, callback_url=receiver.url(path)
        )
        await confirm(db, order["id"])
        made[path] = order["id"]
    ctx = WorkerContext(db=db, gateway=app.state.gateway)
    assert await worker.dispatch_webhooks(ctx) == 3  # one batch
    assert (await order_row(db, made["/ok"])).status == "completed"
    assert (await order_row(db, made["/fails"])).status == "confirmed"
    assert (await order_row(db, made["/gone"])).status == "callback_failed"
    async with db.transaction() as session:
        rows = await session.execute(select(WebhookDelivery.url, WebhookDelivery.status))
        statuses = {url.rsplit("/", 1)[1]: status for url, status in rows.all()}
        incidents = (await session.scalars(select(Incident))).all()
        attempts = (await session.scalars(select(WebhookAttempt))).all()
    assert statuses == {"ok": "delivered", "fails": "pending", "gone": "failed"}
    assert [i.order_id for i in incidents] == [uuid.UUID(str(made["/gone"]))]
    assert sorted(a.http_status or 0 for a in attempts) == [200, 410, 500]


async def test_an_outcome_that_cannot_be_recorded_leaves_the_others_recorded(
    app: FastAPI, db: Database, receiver: Receiver
) -> None:
    await expired_events(app, db, receiver.url("/merchant"), 3)
    policy = app.state.gateway.webhooks
    async with db.transaction() as session:
        jobs = await webhooks.claim_due(session)
    ok = Result(started_at=utcnow(), duration_ms=1, http_status=200)
    # A job whose delivery row is gone: its attempt row breaks a foreign key, which fails the
    # batch's transaction; each outcome is then recorded on its own.
    ghost = dataclasses.replace(jobs[1], delivery_id=uuid.uuid4())
    outcomes = [(jobs[0], ok), (ghost, ok), (jobs[1], ok), (jobs[2], ok)]
    await tasks.record(db, outcomes, policy)
    assert await by_status(db) == {"delivered": 3}
    async with db.transaction() as session:
        attempts = (await session.scalars(select(WebhookAttempt))).all()
        orders_left = (await session.scalars(select(Order.status))).all()
    assert sorted(a.delivery_id for a in attempts) == sorted(j.delivery_id for j in jobs)
    assert orders_left == ["pending"]  # order.expired changes no order
