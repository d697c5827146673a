"""The dashboard and the merchant pages: the admin API services, rendered; changes audited."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from paywarden.kit.crypto import keys_of
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Incident, Merchant
from tests.console.helpers import csrf_for, post_form
from tests.factories import create_merchant, create_payment


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_dashboard_cards_chart_pool_wallet_incidents(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    merchant = await create_merchant(db)
    await create_payment(admin_client, merchant, amount="1234.5")
    response = await admin_client.get("/admin/gateway")
    assert response.status_code == 200
    page = response.text
    for card in ("card-today", "card-week", "card-total"):
        assert f'id="{card}"' in page
    assert "1 orders · 0 completed · 0.00% success · 1 merchants" in page
    assert page.count('class="bar"') == 7
    assert page.count("<title>") == 1 + 7  # the page's, then one per bar
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 0\.000000 USDT</title>", page)
    assert 'id="pool"' in page
    assert "Not configured" in page  # no hot wallet in tests
    assert "No incidents." in page
    assert 'aria-current="page">Dashboard' in page


async def test_chart_scales_to_the_days_revenue() -> None:
    from paywarden.console.charts import revenue_chart

    days = [(f"2026-04-0{i}", "0.000000") for i in range(1, 7)] + [("2026-04-07", "380.5")]
    chart = revenue_chart(days)
    assert [t.label for t in chart.ticks] == ["0", "125", "250", "375", "500"]
    assert chart.bars[-1].title == "2026-04-07: 380.5 USDT"
    assert chart.bars[0].height == 0
    assert not chart.empty


async def test_merchants_empty_state(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/admin/merchants")
    assert response.status_code == 200
    assert "No merchants yet." in response.text


async def test_create_merchant_shows_the_key_once(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    response = await post_form(
        admin_client,
        "/admin/merchants/new",
        "/admin/merchants/new",
        {
            "name": "Tea Shop",
            "webhook_url": "https://tea.example.com/hook",
            "webhook_secret": "s" * 12,
        },
    )
    assert response.status_code == 200
    key = re.search(r'id="api-key">(pw_live_\w+)<', response.text)
    assert key
    assert "shown only once" in response.text
    assert 'data-copy="api-key"' in response.text
    # The key works on the merchant API, and no page shows it again.
    listing = await admin_client.get("/api/v1/payments", headers={"X-API-Key": key.group(1)})
    assert listing.status_code == 200
    page = (await admin_client.get("/admin/merchants")).text
    assert "Tea Shop" in page
    assert key.group(1) not in page
    [entry] = await _audit(db, "merchant.create")
    assert entry.actor == "admin-client@example.com"


async def test_create_merchant_form_errors(admin_client: httpx.AsyncClient, db: Database) -> None:
    await create_merchant(db, "Taken")
    bad = await post_form(
        admin_client,
        "/admin/merchants/new",
        "/admin/merchants/new",
        {"name": "", "webhook_url": "ftp://x", "webhook_secret": "short"},
    )
    assert bad.status_code == 400
    assert 'id="name-error"' in bad.text
    assert 'id="webhook_url-error"' in bad.text
    assert 'id="webhook_secret-error"' in bad.text
    taken = await post_form(
        admin_client,
        "/admin/merchants/new",
        "/admin/merchants/new",
        {"name": "Taken", "webhook_secret": "s" * 12},
    )
    assert taken.status_code == 409
    assert "already" in taken.text.lower()
    assert len(await _audit(db, "merchant.create")) == 1  # only the factory's


async def test_detail_edit_suspend_reactivate(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    made = await create_merchant(db)
    mid = made.merchant.id
    await create_payment(admin_client, made, external_id="order-77")
    page = (await admin_client.get(f"/admin/merchants/{mid}")).text
    assert "order-77" in page
    assert "12.500000 USDT" in page
    assert made.merchant.api_key_prefix in page

    edit = await post_form(
        admin_client,
        f"/admin/merchants/{mid}/edit",
        f"/admin/merchants/{mid}/edit",
        {"name": "Renamed", "webhook_url": "", "webhook_secret": ""},
    )
    assert edit.status_code == 303
    assert edit.headers["location"] == f"/admin/merchants/{mid}?done=updated"
    async with db.transaction() as s:
        m = await s.get(Merchant, mid)
        assert m is not None
        assert (m.name, m.webhook_url) == ("Renamed", None)
        assert keys_of(s).decrypt(m.webhook_secret) == "whsec-test-secret"  # kept, encrypted
    [entry] = await _audit(db, "merchant.update")
    assert entry.details == {"name": "Renamed", "webhook_url": None}

    confirm = await admin_client.get(f"/admin/merchants/{mid}/suspend")
    assert "Suspend Renamed?" in confirm.text
    response = await post_form(
        admin_client, f"/admin/merchants/{mid}/suspend", f"/admin/merchants/{mid}/suspend"
    )
    assert response.status_code == 303
    page = (await admin_client.get(response.headers["location"])).text
    assert 'id="merchant-status">suspended' in page
    assert len(await _audit(db, "merchant.suspend")) == 1

    response = await post_form(
        admin_client, f"/admin/merchants/{mid}", f"/admin/merchants/{mid}/reactivate"
    )
    assert response.status_code == 303
    assert 'id="merchant-status">active' in (await admin_client.get(f"/admin/merchants/{mid}")).text
    assert len(await _audit(db, "merchant.reactivate")) == 1


async def test_rotate_key_behind_a_confirmation(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    made = await create_merchant(db)
    mid = made.merchant.id
    confirm = await admin_client.get(f"/admin/merchants/{mid}/rotate-key")
    assert confirm.status_code == 200
    assert "stops working at once" in confirm.text
    assert f'action="/admin/merchants/{mid}/rotate-key"' in confirm.text
    response = await post_form(
        admin_client, f"/admin/merchants/{mid}/rotate-key", f"/admin/merchants/{mid}/rotate-key"
    )
    key = re.search(r'id="api-key">(pw_live_\w+)<', response.text)
    assert key
    old = await admin_client.get("/api/v1/payments", headers=made.headers)
    assert old.status_code == 401
    new = await admin_client.get("/api/v1/payments", headers={"X-API-Key": key.group(1)})
    assert new.status_code == 200
    assert len(await _audit(db, "merchant.rotate_api_key")) == 1


@pytest.mark.parametrize("action", ["suspend", "reactivate", "rotate-key", "edit"])
async def test_merchant_posts_need_the_csrf_token(
    admin_client: httpx.AsyncClient, db: Database, action: str
) -> None:
    made = await create_merchant(db)
    response = await admin_client.post(
        f"/admin/merchants/{made.merchant.id}/{action}",
        data={"csrf_token": "forged", "name": "Other"},
    )
    assert response.status_code == 403
    assert "did not come from this console" in response.text
    async with db.transaction() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.action != "merchant.create"))
        assert [r.action for r in rows] == ["auth.login"]


async def test_merchant_create_needs_the_csrf_token(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/admin/merchants/new", data={"name": "X", "webhook_secret": "s" * 12}
    )
    assert response.status_code == 403


async def test_unknown_merchant_is_a_404_page(admin_client: httpx.AsyncClient) -> None:
    for path in (f"/admin/merchants/{uuid.uuid4()}", "/admin/merchants/not-a-uuid/edit"):
        response = await admin_client.get(path)
        assert response.status_code == 404
        assert "Merchant not found" in response.text or "Not found" in response.text


async def test_csrf_token_is_bound_to_the_session(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    """Another session's token is refused: the token is an HMAC of the session id."""
    from tests.factories import create_operator, sign_in

    other = await create_operator(db, "other@example.com")
    await sign_in(client, other)
    foreign = await csrf_for(client, "/admin/merchants/new")
    response = await admin_client.post(
        "/admin/merchants/new",
        data={"csrf_token": foreign, "name": "X", "webhook_secret": "s" * 12},
    )
    assert response.status_code == 403


async def test_incidents_page_and_dashboard_list_them(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop, external_id="order_123")
    async with db.transaction() as s:
        s.add(
            Incident(
                event_type="webhook_failed",
                payload={"reason": "HTTP 500", "attempt": 10},
                order_id=uuid.UUID(str(order["id"])),
                merchant_id=shop.merchant.id,
            )
        )
    for path in ("/admin/incidents", "/admin/gateway"):
        page = (await admin_client.get(path)).text
        assert "webhook_failed" in page
        assert "order_123" in page
        assert "reason: HTTP 500; attempt: 10" in page
    empty = await admin_client.get(f"/admin/merchants/{shop.merchant.id}")
    assert "webhook_failed" in empty.text


async def test_incidents_empty_state(admin_client: httpx.AsyncClient) -> None:
    page = (await admin_client.get("/admin/incidents")).text
    assert "No incidents." in page


async def test_wallet_page(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/admin/wallet")
    assert response.status_code == 200
    page = response.text
    assert 'id="hot-wallet-empty"' in page
    assert 'id="cold-wallet-empty"' in page
    assert re.search(r"<dt>Free</dt><dd>5</dd>", page)
    assert "<dt>Network</dt><dd>devnet</dd>" in page
    assert "not started yet" in page
