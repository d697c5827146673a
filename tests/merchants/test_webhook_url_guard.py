"""The SSRF guard where URLs are saved, in production: a merchant's webhook_url (admin API and
console forms), an order's callback_url (merchant API) and a retry's one-time callback_url are
refused with 400 VALIDATION_ERROR unless https, without credentials, and public (a literal, or
every address the name resolves to). Development keeps allowing local receivers.

DNS is the outside world: the app's webhook policy is given a fake resolver (its `resolver`
setting), so public names resolve without internet access."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
import pytest
from fastapi import FastAPI

from paywarden.config import Settings
from tests.conftest import client_for, start_app
from tests.console.helpers import post_form
from tests.factories import TestMerchant, create_merchant, create_operator, create_payment, sign_in

MERCHANTS = "/api/v1/admin/merchants"

DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "v6.example.com": ["2606:4700::1111"],
    "xn--bcher-kva.example": ["93.184.215.14"],
    "internal.example.com": ["10.1.2.3"],
    "rebind.example.com": ["93.184.215.14", "127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "cgnat.example.com": ["100.100.100.200"],
    "nat64.example.com": ["64:ff9b::c0a8:101"],
}


async def fake_dns(host: str, port: int) -> Sequence[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


# webhook_url -> allowed (201) or refused (400 VALIDATION_ERROR)
URLS: list[tuple[str, bool]] = [
    ("https://hooks.example.com/webhooks", True),
    ("https://hooks.example.com:8443/in?x=1", True),
    ("https://hooks.example.com./webhooks", True),
    ("https://v6.example.com/hook", True),
    ("https://bücher.example/hook", True),
    ("https://8.8.8.8/hook", True),
    ("https://[2606:4700::1111]/hook", True),
    ("http://hooks.example.com/webhooks", False),  # http without WEBHOOK_ALLOW_HTTP
    ("https://user:pass@hooks.example.com/x", False),
    ("https://hooks.example.com@127.0.0.1/x", False),
    ("https://internal.example.com/x", False),
    ("https://rebind.example.com/x", False),
    ("https://metadata.example.com/x", False),
    ("https://cgnat.example.com/x", False),
    ("https://nat64.example.com/x", False),
    ("https://unknown.example.com/x", False),  # does not resolve
    ("https://localhost/x", False),
    ("https://localhost./x", False),
    ("https://127.0.0.1/x", False),
    ("https://2130706433/x", False),
    ("https://0x7f.1/x", False),
    ("https://127.1/x", False),
    ("https://0177.0.0.1/x", False),
    ("https://169.254.169.254/latest/meta-data", False),
    ("https://100.100.100.200/latest/meta-data", False),
    ("https://10.0.0.1/x", False),
    ("https://[::1]/x", False),
    ("https://[::ffff:10.0.0.1]/x", False),
    ("https://[64:ff9b::a00:1]/x", False),
    ("https://[2002:a00:1::]/x", False),
    ("https://[fe80::1%25eth0]/x", False),
    ("https://metadata/x", False),
    ("https://1.1.1.1/x", True),
    ("https://134744072/x", True),  # decimal 8.8.8.8
    ("https://[::ffff:8.8.8.8]/x", True),  # IPv4-mapped: judged as 8.8.8.8
    ("https://0/x", False),
    ("https://[::]/x", False),
    ("https://192.168.1.1/x", False),
    ("https://172.16.0.1/x", False),
    ("https://0xa9fea9fe/x", False),  # hex 169.254.169.254
    ("https://[::ffff:a9fe:a9fe]/x", False),
    ("https://198.18.0.1/x", False),
    ("https://224.0.0.1/x", False),
    ("https://[2001:db8::1]/x", False),
    ("https://[fc00::1]/x", False),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", False),  # Teredo
    ("https://@hooks.example.com/x", False),
    ("https://printer.local/x", False),
    ("https://db.internal/x", False),
    ("https://hooks.example.com:99999/x", False),
]


@pytest.fixture
async def prod_app(make_settings: Callable[..., Settings]) -> AsyncIterator[FastAPI]:
    app, lifespan = await start_app(make_settings(env="production"))
    gateway = app.state.gateway
    policy = dataclasses.replace(gateway.webhooks, resolver=fake_dns)
    app.state.gateway = dataclasses.replace(gateway, webhooks=policy)
    try:
        yield app
    finally:
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def prod_admin(prod_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(prod_app.state.db, "guard@example.com")
    async with client_for(prod_app, https=True) as client:
        await sign_in(client, op)
        yield client


async def test_production_saves_only_public_https_webhook_urls(
    prod_admin: httpx.AsyncClient, prod_app: FastAPI
) -> None:
    assert prod_app.state.gateway.webhooks.refuse_private
    wrong: list[tuple[str, int, str]] = []
    for i, (url, allowed) in enumerate(URLS):
        body = {"name": f"Shop {i}", "webhook_secret": "s" * 16, "webhook_url": url}
        response = await prod_admin.post(MERCHANTS, json=body)
        expected = 201 if allowed else 400
        code = response.json().get("code", "")
        if response.status_code != expected or (not allowed and code != "VALIDATION_ERROR"):
            wrong.append((url, response.status_code, response.text))
    assert wrong == []
    assert len(URLS) >= 40


async def test_the_refusal_says_why(prod_admin: httpx.AsyncClient) -> None:
    body = {"name": "Shop", "webhook_secret": "s" * 16}
    cases = {
        "http://hooks.example.com/x": "webhook_url: the scheme must be https",
        "https://u:p@hooks.example.com/x": "webhook_url: the URL must not contain credentials",
        "https://internal.example.com/x": "resolves to a non-public address 10.1.2.3",
        "https://unknown.example.com/x": "unknown.example.com does not resolve",
        "https://0x7f.1/x": "webhook_url: 127.0.0.1 is not a public address",
    }
    for url, reason in cases.items():
        response = await prod_admin.post(MERCHANTS, json={**body, "webhook_url": url})
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert reason in response.json()["error"]


async def test_update_is_checked_and_null_still_clears(
    prod_admin: httpx.AsyncClient, prod_app: FastAPI
) -> None:
    shop = await create_merchant(prod_app.state.db, webhook_url=None)
    url = f"{MERCHANTS}/{shop.merchant.id}"
    refused = await prod_admin.put(url, json={"webhook_url": "https://169.254.169.254/x"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "VALIDATION_ERROR"
    ok = await prod_admin.put(url, json={"webhook_url": "https://hooks.example.com/w"})
    assert ok.status_code == 200
    assert ok.json()["webhook_url"] == "https://hooks.example.com/w"
    assert (await prod_admin.put(url, json={"name": "Renamed"})).status_code == 200
    cleared = await prod_admin.put(url, json={"webhook_url": None})
    assert cleared.status_code == 200
    assert cleared.json()["webhook_url"] is None


async def test_http_is_accepted_with_webhook_allow_http(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(env="production", webhook_allow_http=True))
    try:
        op = await create_operator(app.state.db, "http@example.com")
        async with client_for(app, https=True) as client:
            await sign_in(client, op)
            body = {"name": "Shop", "webhook_secret": "s" * 16}
            plain = await client.post(MERCHANTS, json={**body, "webhook_url": "http://8.8.8.8/w"})
            assert plain.status_code == 201
            private = {**body, "name": "Other", "webhook_url": "http://10.0.0.1/w"}
            assert (await client.post(MERCHANTS, json=private)).status_code == 400
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_order_callback_url_is_checked(prod_app: FastAPI) -> None:
    shop = await create_merchant(prod_app.state.db, webhook_url=None)
    async with client_for(prod_app, https=True) as client:
        bad = await _order(client, shop, "o1", "https://[::ffff:169.254.169.254]/cb")
        assert bad.status_code == 400
        assert bad.json()["code"] == "VALIDATION_ERROR"
        assert bad.json()["error"].startswith("callback_url: ")
        assert (await _order(client, shop, "o2", "http://hooks.example.com/cb")).status_code == 400
        good = await _order(client, shop, "o3", "https://hooks.example.com/cb")
        assert good.status_code == 201
        assert good.json()["callback_url"] == "https://hooks.example.com/cb"


async def _order(
    client: httpx.AsyncClient, shop: TestMerchant, external_id: str, callback_url: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/payments",
        json={"external_id": external_id, "amount": "5", "callback_url": callback_url},
        headers=shop.headers,
    )


async def test_retry_callback_url_is_checked(
    prod_admin: httpx.AsyncClient, prod_app: FastAPI
) -> None:
    shop = await create_merchant(prod_app.state.db, webhook_url=None)
    order = await create_payment(prod_admin, shop)
    response = await prod_admin.post(
        f"/api/v1/admin/orders/{order['id']}/retry-webhook",
        json={"callback_url": "https://rebind.example.com/cb"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "127.0.0.1" in response.json()["error"]


async def test_console_merchant_forms_are_checked(
    prod_admin: httpx.AsyncClient, prod_app: FastAPI
) -> None:
    form = {"name": "Tea Shop", "webhook_secret": "s" * 12}
    new = "/admin/merchants/new"
    bad = await post_form(prod_admin, new, new, {**form, "webhook_url": "https://127.1/hook"})
    assert bad.status_code == 400
    assert "127.0.0.1 is not a public address" in bad.text
    good = await post_form(
        prod_admin, new, new, {**form, "webhook_url": "https://hooks.example.com/hook"}
    )
    assert good.status_code == 200
    shop = await create_merchant(prod_app.state.db, "Edited", webhook_url=None)
    edit = f"/admin/merchants/{shop.merchant.id}/edit"
    data = {"name": "Edited", "webhook_url": "https://internal.example.com/hook"}
    refused = await post_form(prod_admin, edit, edit, data)
    assert refused.status_code == 400
    assert "non-public address 10.1.2.3" in refused.text


async def test_development_allows_local_receivers(admin_client: httpx.AsyncClient) -> None:
    body = {"name": "Local", "webhook_secret": "s" * 16, "webhook_url": "http://127.0.0.1:9/w"}
    assert (await admin_client.post(MERCHANTS, json=body)).status_code == 201
