"""Orders in the console: filters kept in the URL, detail with timeline and transfers, retries."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, ChainTransfer, Order, OrderEvent
from tests.console.helpers import post_form
from tests.factories import create_merchant, create_payment


async def _set(db: Database, order_id: str, **values: object) -> None:
    async with db.transaction() as s:
        await s.execute(update(Order).where(Order.id == uuid.UUID(order_id)).values(**values))


async def test_list_filters_in_the_url_and_pages(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    a, b = await create_merchant(db, "Shop A"), await create_merchant(db, "Shop B")
    for i in range(27):
        await create_payment(admin_client, a, external_id=f"a-{i}")
    made = await create_payment(admin_client, b, external_id="b-1", amount="3820.5")
    await _set(db, str(made["id"]), status="completed", amount_received=3_820_500_000)

    page = (await admin_client.get("/admin/orders")).text
    assert "28 orders." in page
    assert "Page 1 of 2" in page
    assert "b-1" in page  # newest first
    assert "3,820.500000 USDT" in page
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older
    assert "Page 2 of 2" in (await admin_client.get(older.group(1).replace("&amp;", "&"))).text

    by_merchant = (await admin_client.get(f"/admin/orders?merchant_id={b.merchant.id}")).text
    assert "1 order." in by_merchant
    assert f'<option value="{b.merchant.id}" selected>' in by_merchant
    by_status = (await admin_client.get("/admin/orders?status=completed")).text
    assert "1 order." in by_status
    today = utcnow().date()
    dated = (await admin_client.get(f"/admin/orders?from={today}&to={today}")).text
    assert "28 orders." in dated
    future = (today + timedelta(days=2)).isoformat()
    none = (await admin_client.get(f"/admin/orders?from={future}&status=pending")).text
    assert "No orders match these filters." in none
    paged = (await admin_client.get(f"/admin/orders?merchant_id={a.merchant.id}")).text
    assert f"merchant_id={a.merchant.id}&amp;page=2" in paged  # filters stay in the pager

    bad = await admin_client.get("/admin/orders?status=paid&merchant_id=x&to=soon")
    assert bad.status_code == 200
    for message in ("Unknown status.", "Unknown merchant.", "“To” must be a date."):
        assert message in bad.text


async def test_orders_empty_state(admin_client: httpx.AsyncClient) -> None:
    assert "No orders yet." in (await admin_client.get("/admin/orders")).text


async def test_detail_timeline_transfers_and_explorer_links(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop, external_id="order-9")
    async with db.transaction() as s:
        s.add(
            ChainTransfer(
                tx_hash="ab" * 32,
                event_index=0,
                block_number=1234,
                block_timestamp=utcnow(),
                from_address="TPayer",
                to_address=str(order["address"]),
                amount=12_500_000,
                order_id=uuid.UUID(str(order["id"])),
                status="final",
            )
        )
    response = await admin_client.get(f"/admin/orders/{order['id']}")
    assert response.status_code == 200
    page = response.text
    assert "order-9" in page
    assert 'id="events"' in page
    assert "created" in page
    assert "ab" * 8 + "…" in page
    assert "/transaction/" + "ab" * 32 in page
    assert "/address/" + str(order["address"]) in page
    assert "12.500000 USDT" in page
    assert "No webhook sent for this order." in page
    assert 'id="retry-webhook-form"' not in page  # not eligible while pending

    for missing in (f"/admin/orders/{uuid.uuid4()}", "/admin/orders/nope"):
        assert (await admin_client.get(missing)).status_code == 404


async def test_retry_webhook_with_a_one_time_url(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop)
    path = f"/admin/orders/{order['id']}"
    action = f"{path}/retry-webhook"
    refused = await post_form(admin_client, path, action)
    assert refused.status_code == 409
    assert "Only orders whose webhook failed can be retried" in refused.text

    await _set(db, str(order["id"]), status="callback_failed")
    assert 'id="retry-webhook-form"' in (await admin_client.get(path)).text
    bad = await post_form(admin_client, path, action, {"callback_url": "ftp://x"})
    assert bad.status_code == 400
    assert "must be a valid http(s) URL" in bad.text
    assert 'value="ftp://x"' in bad.text

    ok = await post_form(
        admin_client, path, action, {"callback_url": "https://sandbox.example.com/hooks"}
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == f"{path}?done=webhook"
    assert "The webhook is queued again" in (await admin_client.get(ok.headers["location"])).text
    async with db.transaction() as s:
        events = list(
            await s.scalars(
                select(OrderEvent.payload).where(OrderEvent.event_type == "webhook_retry_requested")
            )
        )
        audits = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "order.retry_webhook"))
        )
    assert events == [{"callback_url_override": "https://sandbox.example.com/hooks"}]
    assert len(audits) == 1
    assert audits[0].actor == "admin-client@example.com"


async def test_retry_sweep_when_disabled_is_refused_plainly(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop)
    path = f"/admin/orders/{order['id']}"
    from tests.console.helpers import csrf_for

    token = await csrf_for(admin_client, path)
    response = await admin_client.post(f"{path}/retry-sweep", data={"csrf_token": token})
    assert response.status_code == 409
    assert "Not possible now" in response.text
