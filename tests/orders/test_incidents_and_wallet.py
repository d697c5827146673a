"""`GET /api/v1/admin/incidents` and `GET /api/v1/admin/wallet` in the seed's shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Incident
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in


async def test_incidents_latest_ten_of_the_two_kinds(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop, external_id="order_123")
    now = utcnow()
    async with db.transaction() as session:
        for i in range(12):
            session.add(
                Incident(
                    event_type="webhook_failed" if i % 2 else "sweep_failed",
                    payload={"reason": "HTTP 500", "attempt": i},
                    order_id=uuid.UUID(order["id"]),
                    merchant_id=shop.merchant.id,
                    created_at=now - timedelta(minutes=20 - i),
                )
            )
        session.add(Incident(event_type="hot_wallet_low", payload={}, created_at=now))
    data = (await admin_client.get("/api/v1/admin/incidents")).json()["data"]
    assert len(data) == 10
    assert [d["payload"]["attempt"] for d in data] == list(range(11, 1, -1))
    first = data[0]
    assert set(first) == {
        "id",
        "created_at",
        "event_type",
        "payload",
        "order_id",
        "order_status",
        "external_id",
        "merchant_name",
    }
    assert first["event_type"] == "webhook_failed"
    assert first["order_status"] == "pending"
    assert first["external_id"] == "order_123"
    assert first["merchant_name"] == "My Shop"


async def test_wallet_shape_without_keys(admin_client: httpx.AsyncClient) -> None:
    wallet = (await admin_client.get("/api/v1/admin/wallet")).json()
    assert wallet["hot_wallet"] is None
    assert wallet["cold_wallet"] is None
    assert wallet["address_pool"] == {"total": 5, "free": 5, "allocated": 0, "cooling": 0}
    assert wallet["sweep_queue"] == {"waiting": 0, "active": 0, "failed": 0}
    system = wallet["system"]
    assert set(system) == {
        "tron_network",
        "usdt_contract",
        "trongrid_url",
        "tronscan_base_url",
        "tx_explorer_base_url",
        "address_explorer_base_url",
        "sweep_enabled",
        "sweep_mode",
        "hot_wallet_alert_trx",
        "scanner_last_block",
        "scanner_lag_blocks",
    }
    assert system["tron_network"] == "devnet"
    assert system["trongrid_url"] == "http://127.0.0.1:8000/devnet"
    assert system["hot_wallet_alert_trx"] == 100


async def test_wallet_on_nile_with_a_cold_wallet(make_settings: Callable[..., Settings]) -> None:
    app, lifespan = await start_app(
        make_settings(
            tron_network="nile",
            cold_wallet_address="TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
            sweep_enabled=True,
            sweep_mode="delegate",
        )
    )
    try:
        op = await create_operator(app.state.db)
        async with client_for(app) as client:
            await sign_in(client, op)
            wallet = (await client.get("/api/v1/admin/wallet")).json()
        assert wallet["cold_wallet"] == {"address": "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"}
        assert wallet["system"] == {
            "tron_network": "nile",
            "usdt_contract": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
            "trongrid_url": "https://nile.trongrid.io",
            "tronscan_base_url": "https://nile.tronscan.org/#",
            "tx_explorer_base_url": "https://nile.tronscan.org/#/transaction/",
            "address_explorer_base_url": "https://nile.tronscan.org/#/address/",
            "sweep_enabled": True,
            "sweep_mode": "delegate",
            "hot_wallet_alert_trx": 100,
            "scanner_last_block": None,
            "scanner_lag_blocks": None,
        }
    finally:
        await lifespan.__aexit__(None, None, None)
