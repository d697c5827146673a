"""The merchant API: create, read and list payments; idempotency; auth; limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Order, OrderEvent
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_payment

PAYMENTS = "/api/v1/payments"


async def test_create_answers_the_order(client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    before = utcnow()
    body = await create_payment(
        client,
        shop,
        external_id="order_123",
        amount="99",
        callback_url="https://shop.example.com/cb",
        metadata={"cart": [1, 2]},
        expires_in=600,
    )
    assert set(body) == {
        "id",
        "external_id",
        "address",
        "amount_expected",
        "amount_received",
        "status",
        "callback_url",
        "checkout_url",
        "tx_hash",
        "metadata",
        "created_at",
        "expires_at",
    }
    assert body["external_id"] == "order_123"
    assert body["amount_expected"] == "99.000000"
    assert body["amount_received"] == "0.000000"
    assert body["status"] == "pending"
    assert body["address"].startswith("T")
    assert len(body["address"]) == 34
    assert body["checkout_url"] == f"http://127.0.0.1:8000/pay/{body['id']}"
    assert body["tx_hash"] is None
    assert body["metadata"] == {"cart": [1, 2]}
    from datetime import datetime

    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= created <= utcnow()
    assert abs((expires - created) - timedelta(seconds=600)) < timedelta(seconds=1)
    async with db.transaction() as session:
        events = (await session.scalars(select(OrderEvent))).all()
    assert [(e.event_type, e.to_status) for e in events] == [("created", "pending")]


async def test_default_expiry_and_bearer_auth(client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    response = await client.post(
        PAYMENTS,
        json={"external_id": "a", "amount": "0.000001"},
        headers={"Authorization": f"Bearer {shop.api_key}"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["amount_expected"] == "0.000001"
    from datetime import datetime

    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - created) - timedelta(hours=1)) < timedelta(seconds=1)


@pytest.mark.parametrize(
    "body",
    [
        {"external_id": "x", "amount": "0"},
        {"external_id": "x", "amount": "-1"},
        {"external_id": "x", "amount": "1.0000001"},
        {"external_id": "x", "amount": "1000000.000001"},
        {"external_id": "x", "amount": 5},
        {"external_id": "x", "amount": "1e3"},
        {"external_id": "x", "amount": " 1"},
        # The one amount parser: ASCII digits only (full-width, Arabic-Indic), nothing else.
        {"external_id": "x", "amount": "\uff11\uff12"},
        {"external_id": "x", "amount": "\u0661\u0662.\u0665"},
        *({"external_id": "x", "amount": a} for a in ("1\n", "+1", "1_000", "01", "1.", ".5")),
        {"external_id": "", "amount": "1"},
        {"external_id": "x" * 256, "amount": "1"},
        {"amount": "1"},
        {"external_id": "x", "amount": "1", "callback_url": "ftp://a.example.com"},
        {"external_id": "x", "amount": "1", "callback_url": "javascript:alert(1)"},
        {"external_id": "x", "amount": "1", "expires_in": 299},
        {"external_id": "x", "amount": "1", "expires_in": 86401},
        {"external_id": "x", "amount": "1", "metadata": [1]},
        {"external_id": "x", "amount": "1", "metadata": {"blob": "x" * 4100}},
    ],
)
async def test_bad_bodies_are_invalid_body_and_create_nothing(
    client: httpx.AsyncClient, db: Database, body: dict[str, object]
) -> None:
    shop = await create_merchant(db)
    response = await client.post(PAYMENTS, json=body, headers=shop.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_BODY"
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_the_largest_amount_is_accepted(client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    body = await create_payment(client, shop, amount="1000000")
    assert body["amount_expected"] == "1000000.000000"


async def test_same_external_id_is_a_safe_retry_or_a_conflict(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    first = await create_payment(client, shop, external_id="o-1", amount="10.5", metadata={"a": 1})
    retry = await client.post(
        PAYMENTS,
        json={"externalId": "o-1", "amount": "10.500000", "metadata": {"a": 1}, "expiresIn": 3600},
        headers=shop.headers,
    )
    assert retry.status_code == 200
    assert retry.json() == first
    other = await client.post(
        PAYMENTS, json={"external_id": "o-1", "amount": "11"}, headers=shop.headers
    )
    assert other.status_code == 409
    assert other.json()["code"] == "DUPLICATE_EXTERNAL_ID"
    # Another merchant may use the same external_id.
    other_shop = await create_merchant(db, "Other Shop")
    assert (await create_payment(client, other_shop, external_id="o-1"))["id"] != first["id"]


async def test_api_key_is_required(client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    for headers in (
        {},
        {"X-API-Key": "pw_live_wrong"},
        {"X-API-Key": shop.api_key + "x"},
        {"Authorization": f"Basic {shop.api_key}"},
        {"X-API-Key": "nonsense"},
    ):
        for method, path in (
            ("POST", PAYMENTS),
            ("GET", PAYMENTS),
            ("GET", f"{PAYMENTS}/00000000-0000-4000-8000-000000000000"),
        ):
            response = await client.request(
                method, path, headers=headers, json={"external_id": "x", "amount": "1"}
            )
            assert response.status_code == 401, (headers, method, path)
            assert response.json() == {
                "error": "Missing or invalid API key",
                "code": "INVALID_API_KEY",
            }


async def test_suspended_merchant_reads_but_cannot_create(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(client, shop)
    async with db.transaction() as session:
        from paywarden.models import Merchant

        row = await session.get(Merchant, shop.merchant.id)
        assert row is not None
        row.is_active = False
    refused = await client.post(
        PAYMENTS, json={"external_id": "new", "amount": "1"}, headers=shop.headers
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "MERCHANT_SUSPENDED"
    assert (await client.get(f"{PAYMENTS}/{order['id']}", headers=shop.headers)).status_code == 200
    assert (await client.get(PAYMENTS, headers=shop.headers)).json()["pagination"]["total"] == 1


async def test_orders_of_another_merchant_are_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    mine, theirs = await create_merchant(db, "Mine"), await create_merchant(db, "Theirs")
    order = await create_payment(client, theirs)
    hidden = await client.get(f"{PAYMENTS}/{order['id']}", headers=mine.headers)
    assert hidden.status_code == 404
    assert hidden.json() == {"error": "Order not found", "code": "NOT_FOUND"}
    assert (await client.get(f"{PAYMENTS}/nope", headers=mine.headers)).status_code == 404
    assert (await client.get(PAYMENTS, headers=mine.headers)).json()["data"] == []
    own = await client.get(f"{PAYMENTS}/{order['id']}", headers=theirs.headers)
    assert own.json() == order


async def test_listing_pages_and_filters(client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    ids = [(await create_payment(client, shop, external_id=f"o{i}"))["id"] for i in range(5)]
    page1 = (await client.get(PAYMENTS, params={"limit": 2}, headers=shop.headers)).json()
    assert page1["pagination"] == {"page": 1, "limit": 2, "total": 5, "total_pages": 3}
    assert [o["id"] for o in page1["data"]] == [ids[4], ids[3]]
    page3 = (
        await client.get(PAYMENTS, params={"limit": 2, "page": 3}, headers=shop.headers)
    ).json()
    assert [o["id"] for o in page3["data"]] == [ids[0]]
    beyond = (
        await client.get(PAYMENTS, params={"limit": 2, "page": 4}, headers=shop.headers)
    ).json()
    assert beyond["data"] == []
    assert beyond["pagination"]["total"] == 5
    default = (await client.get(PAYMENTS, headers=shop.headers)).json()
    assert default["pagination"] == {"page": 1, "limit": 20, "total": 5, "total_pages": 1}
    assert (
        await client.get(PAYMENTS, params={"limit": 100}, headers=shop.headers)
    ).status_code == 200
    expired = (
        await client.get(PAYMENTS, params={"status": "expired"}, headers=shop.headers)
    ).json()
    assert expired["pagination"]["total"] == 0
    future = (
        await client.get(PAYMENTS, params={"from": "2999-01-01T00:00:00Z"}, headers=shop.headers)
    ).json()
    assert future["data"] == []
    window = (
        await client.get(
            PAYMENTS,
            params={"from": page1["data"][1]["created_at"], "to": page1["data"][0]["created_at"]},
            headers=shop.headers,
        )
    ).json()
    assert [o["id"] for o in window["data"]] == [ids[4], ids[3]]
    for params in (
        {"page": 0},
        {"limit": 0},
        {"limit": 101},
        {"status": "paid"},
        {"from": "soon"},
        {"page": "x"},
    ):
        bad = await client.get(PAYMENTS, params=params, headers=shop.headers)
        assert bad.status_code == 400, params
        assert bad.json()["code"] == "INVALID_QUERY"


async def test_rate_limit_per_key(make_settings: Callable[..., Settings]) -> None:
    app, lifespan = await start_app(make_settings(merchant_rate_limit="3/minute"))
    try:
        shop = await create_merchant(app.state.db)
        other = await create_merchant(app.state.db, "Other")
        async with client_for(app) as client:
            for _ in range(3):
                assert (await client.get(PAYMENTS, headers=shop.headers)).status_code == 200
            limited = await client.get(PAYMENTS, headers=shop.headers)
            assert limited.status_code == 429
            assert limited.json()["code"] == "RATE_LIMITED"
            assert int(limited.headers["Retry-After"]) >= 1
            assert (await client.get(PAYMENTS, headers=other.headers)).status_code == 200
    finally:
        await lifespan.__aexit__(None, None, None)
