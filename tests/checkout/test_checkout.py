"""The hosted checkout over HTTP: the payer's page, its status JSON, 404s and security headers."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Order
from tests.factories import TestMerchant, create_merchant, create_payment

STATUS_KEYS = {
    "id",
    "status",
    "amount_expected",
    "amount_received",
    "expires_at",
    "paid",
    "expired",
}
# A well-formed id no order has (fixed, so every xdist worker collects the same tests).
UNKNOWN_ORDER = "5f0c9a4e-2b7d-4c1e-9a8f-3d6b1e0c7a52"
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def _order(
    client: httpx.AsyncClient, db: Database, amount: str = "12.5"
) -> tuple[TestMerchant, dict[str, object]]:
    merchant = await create_merchant(db)
    payment = await create_payment(client, merchant, amount=amount)
    return merchant, payment


async def _set(db: Database, order_id: object, **values: object) -> None:
    async with db.transaction() as s:
        order = await s.get(Order, uuid.UUID(str(order_id)))
        assert order is not None
        for name, value in values.items():
            setattr(order, name, value)


def _nonce(response: httpx.Response) -> str:
    csp = response.headers["content-security-policy"]
    match = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", csp)
    assert match, csp
    return match.group(1)


def _pay_section(html: str) -> bool:
    return 'id="pay"' in html


async def test_pending_page_shows_what_to_pay(client: httpx.AsyncClient, db: Database) -> None:
    _, payment = await _order(client, db)

    response = await client.get(f"/pay/{payment['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "My Shop" in html
    assert "12.500000" in html  # the exact amount to send, never trimmed
    assert "USDT" in html
    assert "TRON network (TRC-20)" in html
    assert str(payment["address"]) in html
    assert "Waiting for payment" in html
    assert 'aria-live="polite"' in html
    assert re.search(r'<svg[^>]*class="qr-code"', html)  # the QR, inline
    assert "<img" not in html
    # The expiry as text, readable without JavaScript.
    expires = str(payment["expires_at"])
    assert f'datetime="{expires}"' in html
    assert f"{expires[:10]} {expires[11:16]} UTC" in html
    assert 'id="copy-address"' in html
    assert _pay_section(html)


async def test_page_scripts_are_inline_and_carry_the_nonce(
    client: httpx.AsyncClient, db: Database
) -> None:
    _, payment = await _order(client, db)
    response = await client.get(f"/pay/{payment['id']}")
    nonce = _nonce(response)
    html = response.text

    assert "<script src" not in html
    assert "http://" not in html
    assert "https://" not in html
    scripts = re.findall(r"<script[^>]*>", html)
    styles = re.findall(r"<style[^>]*>", html)
    assert scripts
    assert styles
    assert all(f'nonce="{nonce}"' in tag for tag in scripts + styles)
    assert " style=" not in html  # inline style attributes would be blocked by the CSP
    assert "onclick" not in html
    # A fresh nonce for every response.
    again = await client.get(f"/pay/{payment['id']}")
    assert _nonce(again) != nonce


async def test_page_shows_no_merchant_data_but_the_name(
    client: httpx.AsyncClient, db: Database
) -> None:
    merchant, payment = await _order(client, db)
    m = merchant.merchant

    html = (await client.get(f"/pay/{payment['id']}")).text
    status = (await client.get(f"/pay/{payment['id']}/status")).text

    for secret in (
        m.webhook_secret,
        str(m.webhook_url),
        "shop.example.com",
        merchant.api_key,
        m.api_key_prefix,
        m.api_key_hash,
        str(m.id),
    ):
        assert secret not in html
        assert secret not in status
    assert "My Shop" not in status
    assert "order-1" not in html  # the merchant's own reference stays with the merchant


async def test_merchant_name_is_escaped(client: httpx.AsyncClient, db: Database) -> None:
    merchant = await create_merchant(db, name='<script>alert("x")</script> & Co')
    payment = await create_payment(client, merchant)

    html = (await client.get(f"/pay/{payment['id']}")).text

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html


async def test_confirming_order_says_the_payment_is_seen(
    client: httpx.AsyncClient, db: Database
) -> None:
    _, payment = await _order(client, db)
    await _set(db, payment["id"], status="confirming", amount_received=12_500_000)

    html = (await client.get(f"/pay/{payment['id']}")).text
    body = (await client.get(f"/pay/{payment['id']}/status")).json()

    assert "Payment seen, confirming" in html
    assert "Waiting for payment" not in html.split("<script")[0]
    assert _pay_section(html)
    assert body["status"] == "confirming"
    assert body["paid"] is False
    assert body["expired"] is False
    assert body["amount_received"] == "12.500000"


@pytest.mark.parametrize("status", ["confirmed", "completed", "callback_failed"])
async def test_paid_order_renders_paid(
    client: httpx.AsyncClient, db: Database, status: str
) -> None:
    _, payment = await _order(client, db)
    await _set(db, payment["id"], status=status, amount_received=12_500_000)

    html = (await client.get(f"/pay/{payment['id']}")).text
    body = (await client.get(f"/pay/{payment['id']}/status")).json()

    assert '<strong class="status-title" id="status-title">Paid</strong>' in html
    assert 'data-state="paid"' in html
    assert "12.500000" in html
    # Nothing left to pay: no address, QR or copy button to invite a second transfer.
    assert not _pay_section(html)
    assert str(payment["address"]) not in html
    assert "qr-code" not in html
    assert 'http-equiv="refresh"' not in html
    assert body["status"] == status
    assert body["paid"] is True
    assert body["expired"] is False


async def test_expired_order_renders_expired(client: httpx.AsyncClient, db: Database) -> None:
    _, payment = await _order(client, db)
    await _set(db, payment["id"], status="expired")

    html = (await client.get(f"/pay/{payment['id']}")).text
    body = (await client.get(f"/pay/{payment['id']}/status")).json()

    assert '<strong class="status-title" id="status-title">Expired</strong>' in html
    assert 'data-state="expired"' in html
    assert not _pay_section(html)
    assert str(payment["address"]) not in html
    assert body["status"] == "expired"
    assert body["paid"] is False
    assert body["expired"] is True


async def test_pending_order_past_its_time_is_expired_for_the_payer(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The expiry job may not have run yet: the page must not ask for a transfer anyway."""
    _, payment = await _order(client, db)
    await _set(db, payment["id"], expires_at=utcnow() - timedelta(seconds=1))

    html = (await client.get(f"/pay/{payment['id']}")).text
    body = (await client.get(f"/pay/{payment['id']}/status")).json()

    assert 'data-state="expired"' in html
    assert str(payment["address"]) not in html
    assert body["status"] == "pending"
    assert body["expired"] is True
    assert body["paid"] is False


async def test_partial_payment_shows_what_arrived(client: httpx.AsyncClient, db: Database) -> None:
    _, payment = await _order(client, db)

    html = (await client.get(f"/pay/{payment['id']}")).text
    assert re.search(r'<p class="received" id="received" hidden>', html)

    await _set(db, payment["id"], amount_received=2_000_000)
    html = (await client.get(f"/pay/{payment['id']}")).text
    assert re.search(r'<p class="received" id="received">', html)
    assert "2.000000" in html
    assert "12.500000" in html


async def test_status_json(client: httpx.AsyncClient, db: Database) -> None:
    _, payment = await _order(client, db, amount="0.000001")

    response = await client.get(f"/pay/{payment['id']}/status")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body == {
        "id": payment["id"],
        "status": "pending",
        "amount_expected": "0.000001",
        "amount_received": "0.000000",
        "expires_at": payment["expires_at"],
        "paid": False,
        "expired": False,
    }
    assert ISO_MS_Z.match(body["expires_at"])


@pytest.mark.parametrize(
    "order_id", [UNKNOWN_ORDER, "not-a-uuid", "12345", "00000000-0000-0000-0000-00000000000g"]
)
async def test_unknown_order_html_is_a_small_404_page(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    response = await client.get(f"/pay/{order_id}")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Payment not found" in response.text
    assert "Content-Security-Policy" in response.headers
    assert response.headers["cache-control"] == "no-store"
    nonce = _nonce(response)
    assert f'<style nonce="{nonce}">' in response.text


@pytest.mark.parametrize("order_id", [UNKNOWN_ORDER, "not-a-uuid", "12345"])
async def test_unknown_order_status_is_a_json_404(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    response = await client.get(f"/pay/{order_id}/status")

    assert response.status_code == 404
    assert response.json() == {"error": "Order not found", "code": "NOT_FOUND"}


async def test_security_headers(client: httpx.AsyncClient, db: Database) -> None:
    _, payment = await _order(client, db)

    page = await client.get(f"/pay/{payment['id']}")
    status = await client.get(f"/pay/{payment['id']}/status")

    csp = page.headers["content-security-policy"]
    nonce = _nonce(page)
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == [f"'nonce-{nonce}'"]
    assert directives["style-src"] == [f"'nonce-{nonce}'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in csp
    for response in (page, status):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


async def test_checkout_is_public(client: httpx.AsyncClient, db: Database) -> None:
    """No API key, no cookie: a payer has only the link."""
    _, payment = await _order(client, db)
    client.cookies.clear()
    assert "x-api-key" not in {k.lower() for k in client.headers}

    assert (await client.get(f"/pay/{payment['id']}")).status_code == 200
    assert (await client.get(f"/pay/{payment['id']}/status")).status_code == 200


async def test_checkout_url_of_the_api_points_at_the_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    _, payment = await _order(client, db)
    path = httpx.URL(str(payment["checkout_url"])).path

    assert path == f"/pay/{payment['id']}"
    assert (await client.get(path)).status_code == 200


async def test_checkout_routes_are_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert not [p for p in paths if p.startswith("/pay")]
