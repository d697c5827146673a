"""Merchant webhooks: outbox rows written with the status change, signed Standard Webhooks
deliveries over real HTTP, retries with backoff, give-up, manual retry, stale claims, SSRF."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from standardwebhooks import Webhook

from paywarden import worker
from paywarden.config import Settings
from paywarden.context import WorkerContext
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import (
    Incident,
    Order,
    OrderEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from paywarden.orders import service as orders
from paywarden.webhooks import service as webhooks
from paywarden.webhooks.service import Job, WebhookPolicy
from paywarden.webhooks.tasks import lane_client, send
from tests.conftest import client_for, start_app
from tests.factories import TestMerchant, create_merchant, create_payment
from tests.webhooks.conftest import Receiver

SECRET = "whsec-test-secret"
DELAYS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400)


async def dispatch(app: FastAPI) -> int:
    """One dispatcher pass, exactly as the worker loop runs it."""
    return await worker.dispatch_webhooks(WorkerContext(db=app.state.db, gateway=app.state.gateway))


async def confirm(db: Database, order_id: object) -> None:
    async with db.transaction() as session:
        order = await session.get(Order, uuid.UUID(str(order_id)))
        assert order is not None
        order.amount_received = order.amount_expected
        order.tx_hash = "ab" * 32
        await orders.transition(
            session, order, "confirmed", "confirmed", base_url="https://pay.example.com"
        )


async def make_due(db: Database) -> None:
    """Drive time: every pending delivery is due now."""
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def order_row(db: Database, order_id: object) -> Order:
    async with db.transaction() as session:
        order = await session.get(Order, uuid.UUID(str(order_id)))
        assert order is not None
        return order


async def deliveries(db: Database) -> list[WebhookDelivery]:
    async with db.transaction() as session:
        rows = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))
        return list(rows.all())


def verified(received: object) -> dict[str, object]:
    """The body, verified with the standardwebhooks package (the key: the secret's UTF-8)."""
    body, headers = received.body, received.headers  # type: ignore[attr-defined]
    return Webhook(SECRET.encode()).verify(body, headers)


async def shop_and_order(
    client: httpx.AsyncClient, db: Database, receiver: Receiver, **extra: object
) -> tuple[TestMerchant, dict[str, object]]:
    shop = await create_merchant(db, webhook_secret=SECRET, webhook_url=receiver.url("/merchant"))
    order = await create_payment(client, shop, **extra)
    return shop, order


async def test_confirmed_order_sends_one_signed_webhook_then_completes(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    _, order = await shop_and_order(admin_client, db, receiver, callback_url=receiver.url("/cb"))
    assert await dispatch(app) == 0  # nothing to tell yet
    await confirm(db, order["id"])
    assert await dispatch(app) == 1
    assert receiver.to("/merchant") == []
    [got] = receiver.to("/cb")
    body = verified(got)
    assert got.headers["content-type"] == "application/json"
    assert body["type"] == "order.confirmed"
    assert body["id"] == got.headers["webhook-id"]
    data = body["data"]
    assert data["id"] == order["id"]
    assert data["status"] == "confirmed"
    assert data["amount_received"] == "12.500000"
    assert data["checkout_url"] == f"https://pay.example.com/pay/{order['id']}"
    assert set(data) == set(order)  # the merchant API's shape
    assert json.loads(got.body) == body
    assert (await order_row(db, order["id"])).status == "completed"
    assert await dispatch(app) == 0  # delivered once, never again
    detail = (await admin_client.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert [e["event_type"] for e in detail["events"]] == [
        "created",
        "confirmed",
        "webhook_delivered",
    ]
    [event] = detail["webhooks"]
    assert event["id"] == got.headers["webhook-id"]
    assert event["type"] == "order.confirmed"
    [delivery] = event["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["url"] == receiver.url("/cb")
    assert delivery["delivered_at"]
    [attempt] = delivery["attempts"]
    assert attempt["http_status"] == 200
    assert attempt["error"] is None
    assert attempt["duration_ms"] >= 0
    assert attempt["response_excerpt"].startswith("answer 200 ")
    assert len(attempt["response_excerpt"].encode()) == 1024  # the first 1 KB only


async def test_merchant_webhook_url_when_the_order_has_none(
    app: FastAPI, db: Database, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    _, order = await shop_and_order(client, db, receiver)
    await confirm(db, order["id"])
    assert await dispatch(app) == 1
    [got] = receiver.to("/merchant")
    assert verified(got)["data"]["id"] == order["id"]  # type: ignore[index]
    assert (await order_row(db, order["id"])).status == "completed"


async def test_no_url_at_all_keeps_the_event_without_a_delivery(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    shop = await create_merchant(db, webhook_url=None)
    order = await create_payment(client, shop)
    await confirm(db, order["id"])
    assert await dispatch(app) == 0
    async with db.transaction() as session:
        events = (await session.scalars(select(WebhookEvent))).all()
    assert [e.type for e in events] == ["order.confirmed"]
    assert await deliveries(db) == []
    assert (await order_row(db, order["id"])).status == "confirmed"


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/merchant"] = 500
    shop, order = await shop_and_order(admin_client, db, receiver)
    await confirm(db, order["id"])
    for attempt in range(1, 11):
        before = utcnow()
        assert await dispatch(app) == 1
        assert await dispatch(app) == 0  # not due again before its delay
        [delivery] = await deliveries(db)
        assert delivery.attempt_count == attempt
        assert delivery.last_error == "HTTP 500"
        if attempt < 10:
            assert delivery.status == "pending"
            wait = (delivery.next_attempt_at - before).total_seconds()
            delay = DELAYS[attempt - 1]
            assert delay <= wait <= delay * 1.1 + 5, (attempt, wait)
            assert (await order_row(db, order["id"])).status == "confirmed"
            await make_due(db)
    assert delivery.status == "failed"
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 10
    assert len(ids) == 1  # the same webhook-id on every attempt
    for r in receiver.requests:
        verified(r)
    async with db.transaction() as session:
        attempts = (
            await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.attempt))
        ).all()
        failed_event = (
            await session.scalars(
                select(OrderEvent).where(OrderEvent.event_type == "webhook_failed")
            )
        ).one()
    assert [a.attempt for a in attempts] == list(range(1, 11))
    assert {a.http_status for a in attempts} == {500}
    assert failed_event.to_status == "callback_failed"
    assert (await order_row(db, order["id"])).status == "callback_failed"
    incidents = (await admin_client.get("/api/v1/admin/incidents")).json()["data"]
    [incident] = incidents
    assert incident["event_type"] == "webhook_failed"
    assert incident["payload"] == {"reason": "HTTP 500", "attempt": 10}
    assert incident["order_id"] == order["id"]
    assert incident["order_status"] == "callback_failed"
    assert incident["merchant_name"] == shop.merchant.name
    async with db.transaction() as session:
        row = (await session.scalars(select(Incident))).one()
    assert (row.order_id, row.merchant_id) == (uuid.UUID(str(order["id"])), shop.merchant.id)
    await make_due(db)
    assert await dispatch(app) == 0


async def test_410_gone_stops_at_once(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/merchant"] = 410
    _, order = await shop_and_order(admin_client, db, receiver)
    await confirm(db, order["id"])
    assert await dispatch(app) == 1
    [delivery] = await deliveries(db)
    assert (delivery.status, delivery.attempt_count) == ("failed", 1)
    assert (await order_row(db, order["id"])).status == "callback_failed"
    incidents = (await admin_client.get("/api/v1/admin/incidents")).json()["data"]
    assert [i["payload"] for i in incidents] == [{"reason": "HTTP 410", "attempt": 1}]


async def test_an_unreachable_receiver_is_an_error_and_retried(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    shop = await create_merchant(db, webhook_url="http://127.0.0.1:9/nothing-listens")
    order = await create_payment(client, shop)
    await confirm(db, order["id"])
    assert await dispatch(app) == 1
    [delivery] = await deliveries(db)
    assert delivery.status == "pending"
    assert delivery.last_error
    async with db.transaction() as session:
        [attempt] = (await session.scalars(select(WebhookAttempt))).all()
    assert attempt.http_status is None
    assert attempt.error == delivery.last_error


async def test_retry_webhook_with_an_override_url(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/cb"] = 410
    _, order = await shop_and_order(admin_client, db, receiver, callback_url=receiver.url("/cb"))
    await confirm(db, order["id"])
    assert await dispatch(app) == 1
    assert (await order_row(db, order["id"])).status == "callback_failed"
    url = f"/api/v1/admin/orders/{order['id']}/retry-webhook"
    ok = await admin_client.post(url, json={"callback_url": receiver.url("/override")})
    assert ok.status_code == 200, ok.text
    assert await dispatch(app) == 1
    [first] = receiver.to("/cb")
    [again] = receiver.to("/override")
    assert again.headers["webhook-id"] == first.headers["webhook-id"]  # receivers dedupe
    assert verified(again) == verified(first)
    row = await order_row(db, order["id"])
    assert row.status == "completed"
    assert row.callback_url == receiver.url("/cb")  # the override is never stored
    found = await deliveries(db)
    assert [(d.url, d.status, d.one_shot) for d in found] == [
        (receiver.url("/cb"), "failed", False),
        (receiver.url("/override"), "delivered", True),
    ]
    detail = (await admin_client.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert [e["event_type"] for e in detail["events"]][-3:] == [
        "webhook_failed",
        "webhook_retry_requested",
        "webhook_delivered",
    ]
    assert [len(e["deliveries"]) for e in detail["webhooks"]] == [2]


async def test_retry_webhook_without_override_uses_the_order_url(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/merchant"] = 410
    _, order = await shop_and_order(admin_client, db, receiver)
    await confirm(db, order["id"])
    await dispatch(app)
    receiver.answers["/merchant"] = 200
    url = f"/api/v1/admin/orders/{order['id']}/retry-webhook"
    assert (await admin_client.post(url)).status_code == 200
    assert await dispatch(app) == 1
    assert len(receiver.to("/merchant")) == 2
    assert (await order_row(db, order["id"])).status == "completed"


async def test_expiry_sends_order_expired(
    app: FastAPI, db: Database, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    _, order = await shop_and_order(client, db, receiver)
    async with db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(str(order["id"])))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    ctx = WorkerContext(db=db, gateway=app.state.gateway)
    assert await worker.expire_orders(ctx) == 1
    assert await dispatch(app) == 1
    [got] = receiver.to("/merchant")
    body = verified(got)
    assert body["type"] == "order.expired"
    assert body["data"]["status"] == "expired"  # type: ignore[index]
    assert body["data"]["checkout_url"].startswith(app.state.settings.public_base_url)  # type: ignore[index]
    assert (await order_row(db, order["id"])).status == "expired"  # no completion on expiry


async def test_a_stuck_delivery_is_sent_again_with_the_same_id(
    app: FastAPI, db: Database, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    _, order = await shop_and_order(client, db, receiver)
    await confirm(db, order["id"])
    async with db.transaction() as session:  # a worker claims it, then dies before sending
        [job] = await webhooks.claim_due(session)
    [delivery] = await deliveries(db)
    assert delivery.status == "delivering"
    assert await dispatch(app) == 0  # a live claim is left alone
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=61))
        )
    assert await dispatch(app) == 1
    [got] = receiver.to("/merchant")
    assert got.headers["webhook-id"] == str(job.event_id)
    verified(got)
    assert (await order_row(db, order["id"])).status == "completed"


async def test_private_targets_are_refused_in_production(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    # http allowed, so that the refusal is for the address (a URL saved before the guard).
    app, lifespan = await start_app(make_settings(env="production", webhook_allow_http=True))
    try:
        db = app.state.db
        async with client_for(app, https=True) as client:
            _, order = await shop_and_order(client, db, receiver)
        await confirm(db, order["id"])
        assert await dispatch(app) == 1
        assert receiver.requests == []
        [delivery] = await deliveries(db)
        assert delivery.status == "pending"
        assert delivery.attempt_count == 1
        assert "refused" in (delivery.last_error or "")
        assert "127.0.0.1" in (delivery.last_error or "")
        assert (await order_row(db, order["id"])).status == "confirmed"
    finally:
        await lifespan.__aexit__(None, None, None)


def test_production_refuses_to_allow_private_targets(
    make_settings: Callable[..., Settings],
) -> None:
    # Issue 13: no opt-out of the SSRF guard in production; it refuses to start instead.
    with pytest.raises(ValueError, match="WEBHOOK_ALLOW_PRIVATE=true is refused in production"):
        make_settings(env="production", webhook_allow_private=True)


async def test_a_send_connects_to_the_address_its_guard_resolved(receiver: Receiver) -> None:
    """The lane resolves the host once, through the guard's resolver, and connects there (no
    second lookup for a rebinding DNS server to answer): `hooks.example.com` reaches the
    receiver on 127.0.0.1 only because the fake DNS said so; TLS and Host keep the name."""
    asked: list[str] = []

    async def dns(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    port = httpx.URL(receiver.base).port
    url = f"http://hooks.example.com:{port}/merchant?x=1"
    job = Job(
        uuid.uuid4(), uuid.uuid4(), "order.confirmed", uuid.uuid4(), uuid.uuid4(),
        url, 1, b"{}", SECRET,
    )  # fmt: skip
    policy = WebhookPolicy(resolver=dns)  # development: loopback allowed
    async with lane_client(None, policy) as http:
        result = await send(http, job, policy)
    assert result.http_status == 200
    assert asked == ["hooks.example.com"]  # once, by the guard: the connection used its answer
    [got] = receiver.to("/merchant")
    assert got.headers["host"] == f"hooks.example.com:{port}"
    assert got.headers["webhook-id"] == str(job.event_id)


@pytest.mark.parametrize(
    ("url", "answers", "reason"),
    [
        ("https://hooks.example.com/x", ["127.0.0.1"], "non-public address 127.0.0.1"),
        ("https://hooks.example.com/x", ["93.184.215.14", "10.0.0.7"], "10.0.0.7"),
        ("https://hooks.example.com/x", [], "does not resolve"),
        ("https://hooks.example.com/x", ["64:ff9b::a9fe:a9fe"], "64:ff9b::a9fe:a9fe"),
        ("https://169.254.169.254/latest/meta-data", [], "169.254.169.254 is not a public"),
        ("https://0x7f.1/x", [], "127.0.0.1 is not a public"),
        ("http://8.8.8.8/x", [], "scheme must be https"),
        ("https://user:pw@8.8.8.8/x", [], "credentials"),
    ],
)
async def test_production_sends_refuse_unsafe_destinations(
    receiver: Receiver, url: str, answers: list[str], reason: str
) -> None:
    """At send time (production) nothing is sent to a non-public address, a name that does not
    resolve, http or credentials: the attempt records why."""

    async def dns(host: str, port: int) -> list[str]:
        return answers

    job = Job(
        uuid.uuid4(), uuid.uuid4(), "order.confirmed", uuid.uuid4(), uuid.uuid4(),
        url, 1, b"{}", SECRET,
    )  # fmt: skip
    policy = WebhookPolicy(refuse_private=True, resolver=dns)
    async with lane_client(None, policy) as http:
        result = await send(http, job, policy)
    assert result.http_status is None
    assert result.error is not None
    assert result.error.startswith("refused: ")
    assert reason in result.error


async def test_concurrent_dispatchers_send_each_delivery_once(
    app: FastAPI, db: Database, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    shop = await create_merchant(db, webhook_secret=SECRET, webhook_url=receiver.url("/merchant"))
    made = [await create_payment(client, shop, external_id=f"o{i}") for i in range(6)]
    for order in made:
        await confirm(db, order["id"])
    counts = await asyncio.gather(*(dispatch(app) for _ in range(3)))
    assert sum(counts) == 6
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == len(receiver.requests) == 6
    for order in made:
        assert (await order_row(db, order["id"])).status == "completed"
