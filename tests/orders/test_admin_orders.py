"""The seed's admin order API: list with filters, detail, retry-webhook, retry-sweep."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select, update

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Order, OrderEvent
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in

ORDERS = "/api/v1/admin/orders"
MISSING = "00000000-0000-4000-8000-000000000000"


async def _set_status(db: Database, order_id: str, status: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == uuid.UUID(order_id)).values(status=status)
        )


async def test_list_filters_and_pages(admin_client: httpx.AsyncClient, db: Database) -> None:
    a, b = await create_merchant(db, "Shop A"), await create_merchant(db, "Shop B")
    made = [await create_payment(admin_client, a, external_id=f"a{i}") for i in range(3)]
    made += [await create_payment(admin_client, b, external_id=f"b{i}") for i in range(2)]
    await _set_status(db, made[0]["id"], "expired")
    everything = (await admin_client.get(ORDERS)).json()
    assert everything["pagination"] == {"page": 1, "limit": 20, "total": 5, "total_pages": 1}
    row = everything["data"][0]
    assert set(row) == {
        "id",
        "external_id",
        "merchant_id",
        "merchant_name",
        "address",
        "amount_expected",
        "amount_received",
        "status",
        "tx_hash",
        "created_at",
        "expires_at",
    }
    assert row["merchant_name"] == "Shop B"
    assert row["amount_expected"] == "12.500000"
    only_a = (await admin_client.get(ORDERS, params={"merchantId": str(a.merchant.id)})).json()
    assert {o["merchant_name"] for o in only_a["data"]} == {"Shop A"}
    assert only_a["pagination"]["total"] == 3
    expired = (
        await admin_client.get(
            ORDERS, params={"status": "expired", "merchant_id": str(a.merchant.id)}
        )
    ).json()
    assert [o["id"] for o in expired["data"]] == [made[0]["id"]]
    paged = (await admin_client.get(ORDERS, params={"limit": 2, "page": 3})).json()
    assert paged["pagination"] == {"page": 3, "limit": 2, "total": 5, "total_pages": 3}
    assert [o["id"] for o in paged["data"]] == [made[0]["id"]]
    for params in (
        {"limit": 101},
        {"status": "done"},
        {"merchant_id": "x"},
        {"to": "x"},
        {"page": -1},
    ):
        bad = await admin_client.get(ORDERS, params=params)
        assert bad.status_code == 400, params
        assert bad.json()["code"] == "INVALID_QUERY"


async def test_detail(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    order = await create_payment(
        admin_client, shop, callback_url="https://s.example.com/cb", metadata={"k": "v"}
    )
    detail = (await admin_client.get(f"{ORDERS}/{order['id']}")).json()
    assert set(detail) == {
        "order",
        "events",
        "transaction",
        "transfers",
        "settlement",
        "meta",
        "webhooks",
    }
    assert detail["webhooks"] == []  # nothing told to the merchant yet (tests/webhooks/ has more)
    assert detail["order"]["id"] == order["id"]
    assert detail["order"]["merchant_name"] == "My Shop"
    assert detail["order"]["callback_url"] == "https://s.example.com/cb"
    assert detail["order"]["metadata"] == {"k": "v"}
    assert [e["event_type"] for e in detail["events"]] == ["created"]
    assert detail["transaction"] is None
    assert detail["transfers"] == []
    assert detail["settlement"] is None
    assert detail["meta"]["network"] == "devnet"
    assert detail["meta"]["usdt_contract"].startswith("T")
    assert detail["meta"]["tx_explorer_base_url"].endswith("/transaction/")
    assert detail["meta"]["sweep_enabled"] is False
    missing = await admin_client.get(f"{ORDERS}/{MISSING}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Order not found", "code": "NOT_FOUND"}


async def test_retry_webhook(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop)
    url = f"{ORDERS}/{order['id']}/retry-webhook"
    not_eligible = await admin_client.post(url)
    assert not_eligible.status_code == 409
    assert not_eligible.json()["code"] == "INVALID_STATE"
    missing = await admin_client.post(f"{ORDERS}/{MISSING}/retry-webhook")
    assert missing.status_code == 404
    await _set_status(db, order["id"], "callback_failed")
    for body in ({"callback_url": "not-a-url"}, {"callbackUrl": "ftp://x.example.com"}):
        bad = await admin_client.post(url, json=body)
        assert bad.status_code == 400
        assert bad.json()["code"] == "VALIDATION_ERROR"
    ok = await admin_client.post(url, json={"callbackUrl": "https://sandbox.example.com/hooks"})
    assert ok.status_code == 200
    assert ok.json() == {"ok": True}
    assert (await admin_client.post(url)).status_code == 200  # no body is fine too
    async with db.transaction() as session:
        events = (
            await session.scalars(
                select(OrderEvent)
                .where(OrderEvent.event_type == "webhook_retry_requested")
                .order_by(OrderEvent.created_at)
            )
        ).all()
        row = await session.get(Order, uuid.UUID(order["id"]))
        audits = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "order.retry_webhook")
            )
        ).all()
    assert [e.payload for e in events] == [
        {"callback_url_override": "https://sandbox.example.com/hooks"},
        {},
    ]
    assert row is not None
    assert row.callback_url is None  # the override is never stored on the order
    assert len(audits) == 2


async def test_retry_sweep_when_disabled(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop)
    missing = await admin_client.post(f"{ORDERS}/{MISSING}/retry-sweep")
    assert missing.status_code == 404
    disabled = await admin_client.post(f"{ORDERS}/{order['id']}/retry-sweep")
    assert disabled.status_code == 409
    assert disabled.json() == {
        "error": "Sweeping is not enabled on this deployment",
        "code": "SWEEP_DISABLED",
    }


async def test_retry_sweep_when_enabled_needs_a_failed_sweep(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(sweep_enabled=True))
    try:
        op = await create_operator(app.state.db)
        shop = await create_merchant(app.state.db)
        async with client_for(app) as client:
            await sign_in(client, op)
            order = await create_payment(client, shop)
            response = await client.post(f"{ORDERS}/{order['id']}/retry-sweep")
        assert response.status_code == 409
        assert response.json()["code"] == "INVALID_STATE"
    finally:
        await lifespan.__aexit__(None, None, None)


@pytest.mark.parametrize("path", ["/orders/not-a-uuid", "/orders/not-a-uuid/retry-webhook"])
async def test_malformed_ids_are_not_found(admin_client: httpx.AsyncClient, path: str) -> None:
    method = "POST" if path.endswith("webhook") else "GET"
    response = await admin_client.request(method, f"/api/v1/admin{path}")
    assert response.status_code == 404


async def test_retry_webhook_with_nowhere_to_send(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db, webhook_url=None)
    order = await create_payment(admin_client, shop)
    await _set_status(db, order["id"], "callback_failed")
    url = f"{ORDERS}/{order['id']}/retry-webhook"
    nowhere = await admin_client.post(url)
    assert nowhere.status_code == 409
    assert nowhere.json()["code"] == "INVALID_STATE"
    once = await admin_client.post(url, json={"callback_url": "https://once.example.com/h"})
    assert once.status_code == 200
