"""The embedded default seeds a demo merchant once, with its API key in var/."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from paywarden.config import Settings
from paywarden.demo import DEMO_MERCHANT
from paywarden.merchants import service as merchants
from paywarden.merchants.dev_receiver import receiver_url
from paywarden.models import Merchant
from paywarden.webhooks.signing import headers
from tests.conftest import client_for, start_app


async def test_demo_merchant_once(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(demo_data=True)
    for _ in range(2):
        app, lifespan = await start_app(settings)
        await lifespan.__aexit__(None, None, None)
    key = (settings.var_dir / "demo_api_key").read_text()
    app, lifespan = await start_app(settings)
    try:
        async with client_for(app) as client:
            made = await client.post(
                "/api/v1/payments",
                json={"external_id": "demo-1", "amount": "12.5"},
                headers={"X-API-Key": key},
            )
        assert made.status_code == 201
    finally:
        await lifespan.__aexit__(None, None, None)
    assert (settings.var_dir / "demo_api_key").stat().st_mode & 0o777 == 0o600
    assert tmp_path in settings.var_dir.parents


async def test_no_demo_data_in_production(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(demo_data=True, env="production")
    _app, lifespan = await start_app(settings)
    await lifespan.__aexit__(None, None, None)
    assert not (settings.var_dir / "demo_api_key").exists()


async def test_the_demo_merchant_has_a_receiver_that_checks_signatures(
    make_settings: Callable[..., Settings],
) -> None:
    """Its webhooks go to the built-in development receiver (so a demo order completes), which
    checks the signature as a merchant must: 200 when right, 401 when wrong or stale."""
    settings = make_settings(demo_data=True)
    app, lifespan = await start_app(settings)
    try:
        async with app.state.db.transaction() as session:
            merchant = await session.scalar(select(Merchant).where(Merchant.name == DEMO_MERCHANT))
            assert merchant is not None
            assert merchant.webhook_url == receiver_url(settings.public_base_url, merchant.id)
            secret = await merchants.webhook_secret(session, merchant.id)
        path = merchant.webhook_url.removeprefix(settings.public_base_url)
        body = b'{"type":"order.confirmed","data":{}}'
        now = int(time.time())
        async with client_for(app) as client:
            good = await client.post(
                path, content=body, headers=headers(secret, "msg_1", now, body)
            )
            tampered = await client.post(
                path, content=body + b" ", headers=headers(secret, "msg_1", now, body)
            )
            stale = await client.post(
                path, content=body, headers=headers(secret, "msg_1", now - 3600, body)
            )
            unknown = await client.post(
                f"/dev/webhook-receiver/{uuid.uuid4()}",
                content=body,
                headers=headers(secret, "msg_1", now, body),
            )
        assert (good.status_code, good.json()) == (200, {"received": True, "webhook_id": "msg_1"})
        assert tampered.status_code == stale.status_code == 401
        assert tampered.json()["code"] == "INVALID_SIGNATURE"
        assert unknown.status_code == 404
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_no_receiver_in_production(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(env="production")
    app, lifespan = await start_app(settings)
    try:
        async with client_for(app) as client:
            response = await client.post(f"/dev/webhook-receiver/{uuid.uuid4()}", content=b"{}")
        assert response.status_code == 404
    finally:
        await lifespan.__aexit__(None, None, None)
