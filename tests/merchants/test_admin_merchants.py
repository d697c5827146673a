"""The seed's merchant admin API: list, create, detail, update, rotate the API key."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from paywarden.kit.crypto import keys_of
from paywarden.kit.db import Database
from paywarden.kit.security import sha256_hex
from paywarden.models import AuditEntry, Incident, Merchant
from tests.factories import create_merchant, create_payment

MERCHANTS = "/api/v1/admin/merchants"
KEY = re.compile(r"^pw_live_[0-9A-Za-z]{36}$")


async def test_create_shows_the_key_once_and_stores_only_its_hash(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    client = admin_client
    response = await client.post(
        MERCHANTS, json={"name": "New Shop", "webhook_secret": "a-long-random-string"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {
        "id",
        "name",
        "api_key",
        "api_key_prefix",
        "webhook_secret",
        "is_active",
        "created_at",
    }
    assert KEY.match(body["api_key"])
    assert body["api_key_prefix"] == body["api_key"][:12]
    assert body["api_key_prefix"].startswith("pw_live_")
    assert body["webhook_secret"] == "a-long-random-string"
    assert body["is_active"] is True
    assert body["created_at"].endswith("Z")
    listed = (await client.get(MERCHANTS)).json()["data"]
    assert "api_key" not in listed[0]
    assert listed[0]["order_count"] == 0
    detail = (await client.get(f"{MERCHANTS}/{body['id']}")).json()
    assert body["api_key"] not in str(detail)
    async with db.transaction() as session:
        row = await session.scalar(select(Merchant).where(Merchant.is_internal.is_(False)))
        assert row is not None
        assert row.api_key_hash == sha256_hex(body["api_key"])
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "merchant.create"))
        ).one()
    assert audit.target_id == body["id"]
    assert body["api_key"] not in str(audit.details)


async def test_create_validation_and_name_conflict(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    client = admin_client
    ok = await client.post(
        MERCHANTS,
        json={
            "name": "Shop",
            "webhookSecret": "12345678",
            "webhookUrl": "https://shop.example.com/h",
        },
    )
    assert ok.status_code == 201  # camelCase (deprecated) is accepted
    assert ok.json()["webhook_url"] == "https://shop.example.com/h"
    taken = await client.post(MERCHANTS, json={"name": "Shop", "webhook_secret": "12345678"})
    assert taken.status_code == 409
    assert taken.json() == {"error": "Merchant name already in use", "code": "MERCHANT_NAME_TAKEN"}
    for body in (
        {"name": "", "webhook_secret": "12345678"},
        {"name": "x" * 256, "webhook_secret": "12345678"},
        {"name": "A", "webhook_secret": "1234567"},
        {"name": "A", "webhook_secret": "s" * 256},
        {"name": "A"},
        {"name": "A", "webhook_secret": "12345678", "webhook_url": "ftp://x.example.com"},
        {"name": "A", "webhook_secret": "12345678", "webhook_url": "not a url"},
    ):
        bad = await client.post(MERCHANTS, json=body)
        assert bad.status_code == 400, body
        assert bad.json()["code"] == "INVALID_BODY"
    assert len((await client.get(MERCHANTS)).json()["data"]) == 1


async def test_update(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db, "My Shop")
    await create_merchant(db, "Other Shop")
    url = f"{MERCHANTS}/{shop.merchant.id}"
    client = admin_client
    empty = await client.put(url, json={})
    assert empty.status_code == 400
    assert empty.json()["code"] == "EMPTY_UPDATE"
    for body in ({"name": ""}, {"is_active": "maybe"}, {"name": None}, {"webhook_secret": "short"}):
        bad = await client.put(url, json=body)
        assert bad.status_code == 400, body
        assert bad.json()["code"] == "INVALID_BODY"
    taken = await client.put(url, json={"name": "Other Shop"})
    assert taken.json()["code"] == "MERCHANT_NAME_TAKEN"
    missing = await client.put(
        f"{MERCHANTS}/00000000-0000-4000-8000-000000000000", json={"name": "x"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "Merchant not found", "code": "NOT_FOUND"}
    renamed = await client.put(
        url,
        json={"name": "Renamed Shop", "isActive": False, "webhookSecret": "new-secret-if-rotating"},
    )
    assert renamed.status_code == 200
    body = renamed.json()
    assert body["name"] == "Renamed Shop"
    assert body["is_active"] is False
    assert "webhook_secret" not in body
    cleared = await client.put(url, json={"webhook_url": None})
    assert cleared.json()["webhook_url"] is None
    async with db.transaction() as session:
        row = await session.get(Merchant, shop.merchant.id)
        assert row is not None
        # Stored as a Fernet token under the application key set, never as given.
        assert row.webhook_secret != "new-secret-if-rotating"
        assert keys_of(session).decrypt(row.webhook_secret) == "new-secret-if-rotating"
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_id == str(shop.merchant.id))
                .order_by(AuditEntry.created_at)
            )
        ).all()
    assert [e.action for e in entries] == ["merchant.create", "merchant.update", "merchant.update"]
    assert "new-secret-if-rotating" not in str([e.details for e in entries])
    assert entries[1].details["webhook_secret_rotated"] is True


async def test_rotate_invalidates_the_old_key_at_once(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    client = admin_client
    assert (await client.get("/api/v1/payments", headers=shop.headers)).status_code == 200
    rotated = await client.post(f"{MERCHANTS}/{shop.merchant.id}/rotate-api-key")
    assert rotated.status_code == 200
    body = rotated.json()
    assert set(body) == {"id", "name", "api_key", "api_key_prefix"}
    assert KEY.match(body["api_key"])
    assert body["api_key"] != shop.api_key
    old = await client.get("/api/v1/payments", headers=shop.headers)
    assert old.status_code == 401
    assert old.json()["code"] == "INVALID_API_KEY"
    new = await client.get("/api/v1/payments", headers={"X-API-Key": body["api_key"]})
    assert new.status_code == 200
    missing = await client.post(f"{MERCHANTS}/00000000-0000-4000-8000-000000000000/rotate-api-key")
    assert missing.status_code == 404


async def test_list_counts_and_detail_stats(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    client = admin_client
    for i in range(3):
        await create_payment(client, shop, external_id=f"o{i}", amount="10")
    async with db.transaction() as session:
        session.add(
            Incident(
                event_type="webhook_failed",
                merchant_id=shop.merchant.id,
                payload={"reason": "HTTP 500", "attempt": 10},
            )
        )
    listed = (await client.get(MERCHANTS)).json()["data"]
    assert listed[0]["order_count"] == 3
    detail = (await client.get(f"{MERCHANTS}/{shop.merchant.id}")).json()
    assert detail["merchant"]["name"] == "My Shop"
    assert detail["stats"] == {
        "order_count": 3,
        "completed_count": 0,
        "callback_failed_count": 0,
        "active_order_count": 3,
        "total_received": "0.000000",
        "last_order_at": detail["stats"]["last_order_at"],
        "success_rate": "0.00",
        "incident_count": 1,
    }
    assert detail["stats"]["last_order_at"].endswith("Z")
    assert [o["external_id"] for o in detail["recent_orders"]] == ["o2", "o1", "o0"]
    assert detail["recent_incidents"][0]["payload"] == {"reason": "HTTP 500", "attempt": 10}
    assert detail["recent_incidents"][0]["merchant_name"] == "My Shop"
    bad = await client.get(f"{MERCHANTS}/not-a-uuid")
    assert bad.status_code == 404
