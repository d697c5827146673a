"""The wallet tab: balances polled as a fragment, the tab's banner, a USDT top-up (its page,
its live status up to the credit, made once per form), the EUR/USD exchange (previewed with
the figures it posts, made once per form); with a Telegram session and a web session, on both
databases."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Order, Topup
from paywarden.orders import service as orders
from tests.banners.conftest import create as create_banner
from tests.clientapp.conftest import MAX_HTML, client_id_of, csrf_in, post_form
from tests.clients.test_auth import ban
from tests.subscriptions.conftest import balances, count_kind, fund, make_plan, set_rate
from tests.topups.helpers import BASE_URL, confirm, topup_row

MAIN = "/app/main"
USDT = 1_000_000
HX = {"HX-Request": "true"}
_TOPUP_ID = re.compile(r'name="topup_id" value="([^"]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def topup_count(db: Database, client_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        query = select(func.count()).select_from(Topup).where(Topup.client_id == client_id)
        return int(await session.scalar(query) or 0)


async def fx_count(db: Database) -> int:
    return await count_kind(db, "fx")


async def topup_form(http: httpx.AsyncClient) -> dict[str, str]:
    """The wallet page's top-up form: its CSRF token and its key."""
    page = await http.get(MAIN)
    assert page.status_code == 200, page.text
    found = _TOPUP_ID.search(page.text)
    assert found
    return {"csrf_token": csrf_in(page.text), "topup_id": found.group(1)}


async def start_topup(http: httpx.AsyncClient, amount: str = "25") -> uuid.UUID:
    made = await http.post("/app/topups", data={**await topup_form(http), "amount": amount})
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert location.startswith("/app/topups/")
    return uuid.UUID(location.rsplit("/", 1)[1])


def exchange_form(csrf: str, amount: str) -> dict[str, str]:
    """The confirm page's form for exchanging `amount` EUR, with a fresh key."""
    return {
        "csrf_token": csrf,
        "from": "EUR",
        "amount": amount,
        "idempotency_key": str(uuid.uuid4()),
    }


async def move_order(db: Database, topup_id: uuid.UUID, **values: object) -> None:
    """Change the top-up's order as the chain or the clock would (status via its rules)."""
    order_id = (await topup_row(db, topup_id)).order_id
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        status = values.pop("status", None)
        for name, value in values.items():
            setattr(order, name, value)
        if status:
            await orders.transition(session, order, str(status), str(status), base_url=BASE_URL)


# The wallet page


async def test_wallet_page_polls_its_balances_and_shows_the_banner(
    http: httpx.AsyncClient, db: Database, admin_client: httpx.AsyncClient
) -> None:
    await fund(db, await client_id_of(http), "USD", 12_345)
    banner = await create_banner(admin_client, page="main")
    page = await http.get(MAIN)
    assert page.status_code == 200
    html = page.text
    assert len(page.content) < MAX_HTML
    assert 'id="banner"' in html
    assert banner["id"] in html
    assert 'hx-get="/app/main/balances"' in html
    assert 'hx-trigger="every 3s"' in html
    assert 'id="balance-USD">123.45 USD<' in html
    assert 'id="available-EUR">0.00 EUR<' in html
    assert 'action="/app/topups"' in html
    assert _TOPUP_ID.search(html)
    assert 'action="/app/convert/preview"' in html
    assert "/static/main.css" in html
    fragment = await http.get("/app/main/balances", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="balance-USD">123.45 USD<' in fragment.text
    assert fragment.headers["cache-control"] == "no-store"


async def test_every_visit_gets_a_fresh_topup_key(http: httpx.AsyncClient) -> None:
    first, second = await topup_form(http), await topup_form(http)
    assert first["topup_id"] != second["topup_id"]


# Top-up


async def test_topup_page_shows_what_and_where_to_pay(
    http: httpx.AsyncClient, db: Database
) -> None:
    topup_id = await start_topup(http, "25.5")
    row = await topup_row(db, topup_id)
    assert (row.client_id, row.amount_usdt, row.status) == (
        await client_id_of(http),
        25_500_000,
        "pending",
    )
    async with db.transaction() as session:
        order = await session.get(Order, row.order_id)
        assert order is not None
        address = order.address
    page = await http.get(f"/app/topups/{topup_id}")
    assert page.status_code == 200
    html = page.text
    assert len(page.content) < MAX_HTML
    assert 'id="topup-amount">25.500000 USDT<' in html
    assert f'id="topup-address" translate="no" aria-labelledby="address-label">{address}<' in html
    assert 'data-copy="topup-address"' in html
    assert '<svg viewBox="0 0' in html
    assert 'class="qr-code"' in html
    assert "TRON (TRC-20)" in html
    assert 'data-state="waiting"' in html
    assert "Waiting for your payment" in html
    assert "data-countdown=" in html
    assert f'hx-get="/app/topups/{topup_id}/status" hx-trigger="every 2s"' in html
    assert f'href="/app/topups/{topup_id}" id="refresh"' in html
    assert "img-src 'self' data:" in page.headers["content-security-policy"]
    # On the devnet the page says how to pay it from the CLI, with the order's id.
    order_id = (await topup_row(db, topup_id)).order_id
    assert f"paywarden devnet pay {order_id}</code>" in html
    # The wallet's balances card points back to the open top-up.
    assert f'href="/app/topups/{topup_id}"' in (await http.get(MAIN)).text
    card = await http.get("/app/main/balances", headers=HX)
    assert 'id="open-topup">A top-up of 25.500000 USDT is waiting' in card.text
    status = await http.get(f"/app/topups/{topup_id}/status", headers=HX)
    assert status.status_code == 200
    assert "<html" not in status.text
    assert 'data-state="waiting"' in status.text
    assert "hx-swap-oob" not in status.text


async def test_a_double_tap_creates_one_topup(http: httpx.AsyncClient, db: Database) -> None:
    form = {**await topup_form(http), "amount": "10"}
    first = await http.post("/app/topups", data=form)
    second = await http.post("/app/topups", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await topup_count(db, await client_id_of(http)) == 1
    # The same key with another amount is refused, nothing more made.
    other = await http.post("/app/topups", data={**form, "amount": "11"})
    assert other.status_code == 409
    assert "already sent with other figures" in other.text
    assert await topup_count(db, await client_id_of(http)) == 1


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("ten", "Enter the amount in USDT"),
        ("1.1234567", "Enter the amount in USDT"),
        ("0.5", "from 1 USDT up to the maximum"),
        ("100001", "from 1 USDT up to the maximum"),
        ("", "Enter the amount in USDT"),
    ],
)
async def test_topup_amount_errors_are_said_on_the_form(
    tg: httpx.AsyncClient, db: Database, amount: str, words: str
) -> None:
    form = await topup_form(tg)
    refused = await tg.post("/app/topups", data={**form, "amount": amount})
    assert refused.status_code == 400
    assert 'id="e-amount"' in refused.text
    assert words in refused.text
    assert f'value="{form["topup_id"]}"' in refused.text  # the same form, to correct
    assert await topup_count(db, await client_id_of(tg)) == 0


async def test_a_decimal_comma_is_read(tg: httpx.AsyncClient, db: Database) -> None:
    topup_id = await start_topup(tg, "12,5")
    assert (await topup_row(db, topup_id)).amount_usdt == 12_500_000


async def test_status_follows_the_order_to_the_credit(
    http: httpx.AsyncClient, db: Database
) -> None:
    await make_plan(db, topup_fee_bps=100, is_default=True)  # 1 percent
    topup_id = await start_topup(http, "25")
    await move_order(db, topup_id, status="confirming", amount_received=25 * USDT)
    seen = await http.get(f"/app/topups/{topup_id}/status", headers=HX)
    assert 'data-state="confirming"' in seen.text
    assert "Payment seen, confirming" in seen.text
    assert "hx-trigger" in seen.text  # still polling

    await confirm(db, (await topup_row(db, topup_id)).order_id, 25 * USDT)
    done = await http.get(f"/app/topups/{topup_id}/status", headers=HX)
    assert done.status_code == 200
    assert 'data-state="credited"' in done.text
    assert "Credited" in done.text
    assert 'id="credit-net">24.75 USD<' in done.text
    assert 'id="credit-fee">0.25 USD<' in done.text
    assert 'id="credit-received">25.000000 USDT<' in done.text
    assert "hx-trigger" not in done.text  # polling stops
    assert '<div id="topup-pay" hx-swap-oob="true">' in done.text  # the address goes away
    assert 'id="topup-address"' not in done.text
    page = await http.get(f"/app/topups/{topup_id}")
    assert 'id="credit-net">24.75 USD<' in page.text
    assert "<svg" not in page.text
    wallet = await http.get("/app/main/balances", headers=HX)
    assert 'id="balance-USD">24.75 USD<' in wallet.text
    assert 'id="open-topup"' not in wallet.text


async def test_an_overdue_topup_is_expired_for_the_client(
    http: httpx.AsyncClient, db: Database
) -> None:
    topup_id = await start_topup(http, "5")
    await move_order(db, topup_id, expires_at=utcnow() - timedelta(seconds=1))
    page = await http.get(f"/app/topups/{topup_id}")
    assert 'data-state="expired"' in page.text
    assert "start a new top-up" in page.text
    assert "<svg" not in page.text
    assert "hx-trigger" not in page.text
    assert 'id="open-topup"' not in (await http.get(MAIN)).text


async def test_another_clients_topup_is_not_found(
    tg: httpx.AsyncClient, other_tg: httpx.AsyncClient, db: Database
) -> None:
    topup_id = await start_topup(tg, "7")
    for path in (f"/app/topups/{topup_id}", f"/app/topups/{topup_id}/status"):
        seen = await other_tg.get(path)
        assert seen.status_code == 404, path
        assert 'id="topup-address"' not in seen.text
    assert (await other_tg.get(f"/app/topups/{uuid.uuid4()}")).status_code == 404
    assert (await other_tg.get("/app/topups/not-an-id")).status_code == 404
    # Another client's top-up id sent as one's own form key makes nothing.
    form = await topup_form(other_tg)
    taken = await other_tg.post(
        "/app/topups", data={**form, "topup_id": str(topup_id), "amount": "7"}
    )
    assert taken.status_code == 409
    assert await topup_count(db, await client_id_of(other_tg)) == 0
    assert (await topup_row(db, topup_id)).client_id == await client_id_of(tg)


# Exchange


async def _rated(db: Database) -> None:
    await make_plan(db, fx_fee_bps=50, is_default=True)  # 0.5 percent
    await set_rate(db, 1_085_000)


async def _funded(http: httpx.AsyncClient, db: Database, currency: str, amount: int) -> uuid.UUID:
    """The rate set and `amount` in the client's `currency` wallet: the client's id."""
    await _rated(db)
    client_id = await client_id_of(http)
    await fund(db, client_id, currency, amount)
    return client_id


async def test_the_preview_shows_what_the_exchange_does(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await _funded(http, db, "EUR", 20_000)
    preview = await http.get("/app/convert/preview", params={"from": "EUR", "amount": "100"})
    assert preview.status_code == 200, preview.text
    html = preview.text
    assert len(preview.content) < MAX_HTML
    assert 'id="confirm"' in html
    assert 'action="/app/convert"' in html
    # 100.00 EUR x 1.085 = 108.50 USD; fee ceil(0.5425) = 0.55; 107.95 USD credited.
    for shown in (
        "100.00 EUR",
        "1 EUR = 1.0850 USD",
        "108.50 USD",
        "0.55 USD (0.5 %)",
        "107.95 USD",
    ):
        assert shown in html, shown
    assert await fx_count(db) == 0  # a preview writes nothing
    form = {
        "csrf_token": csrf_in(html),
        "from": "EUR",
        "amount": "100.00",
    }
    key = _KEY.search(html)
    assert key
    form["idempotency_key"] = key.group(1)
    done = await http.post("/app/convert", data=form)
    assert done.status_code == 200, done.text
    assert len(done.content) < MAX_HTML
    assert "100.00 EUR" in done.text
    assert "107.95 USD" in done.text
    assert "0.55 USD" in done.text
    assert await balances(db, client_id) == {"EUR": 10_000, "USD": 10_795}
    # The confirm button tapped twice: one exchange, the same answer.
    again = await http.post("/app/convert", data=form)
    assert again.status_code == 200
    assert "107.95 USD" in again.text
    assert await balances(db, client_id) == {"EUR": 10_000, "USD": 10_795}
    assert await fx_count(db) == 1


async def test_usd_to_eur_with_a_decimal_comma(http: httpx.AsyncClient, db: Database) -> None:
    await _funded(http, db, "USD", 5_000)
    preview = await http.get("/app/convert/preview", params={"from": "USD", "amount": "10,85"})
    assert preview.status_code == 200
    # 10.85 USD / 1.085 = 10.00 EUR; fee 0.05 EUR; 9.95 EUR credited.
    assert "10.85 USD" in preview.text
    assert "9.95 EUR" in preview.text


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "EUR", "amount": "abc"}, "Enter the amount to exchange"),
        ({"from": "EUR", "amount": "0"}, "Enter the amount to exchange"),
        ({"from": "EUR", "amount": "1.234"}, "Enter the amount to exchange"),
        ({"from": "GBP", "amount": "10"}, "Choose what to exchange"),
        ({"from": "EUR", "amount": "0.01"}, "too small to exchange"),
    ],
)
async def test_exchange_form_errors_are_said_on_the_form(
    tg: httpx.AsyncClient, db: Database, params: dict[str, str], words: str
) -> None:
    await _funded(tg, db, "EUR", 1_000)
    refused = await tg.get("/app/convert/preview", params=params)
    assert refused.status_code == 400
    assert 'id="e-convert"' in refused.text
    assert words in refused.text


async def test_exchange_refusals_in_plain_words(tg: httpx.AsyncClient, db: Database) -> None:
    client_id = await client_id_of(tg)
    await fund(db, client_id, "EUR", 1_000)
    no_rate = await tg.get("/app/convert/preview", params={"from": "EUR", "amount": "5"})
    assert no_rate.status_code == 409
    assert "cannot be exchanged right now" in no_rate.text
    await _rated(db)
    short = await tg.get("/app/convert/preview", params={"from": "EUR", "amount": "10.01"})
    assert short.status_code == 402
    assert "available balance is too low" in short.text
    # Confirmed after the money went elsewhere: refused the same way, nothing moved.
    page = await tg.get(MAIN)
    posted = await tg.post("/app/convert", data=exchange_form(csrf_in(page.text), "10.01"))
    assert posted.status_code == 402
    assert "available balance is too low" in posted.text
    assert await balances(db, client_id) == {"EUR": 1_000, "USD": 0}
    assert await fx_count(db) == 0


# Access


async def _ready_to_change(
    http: httpx.AsyncClient, db: Database
) -> tuple[uuid.UUID, dict[str, str]]:
    """A rate set, 100.00 EUR in the wallet and the top-up form at hand."""
    client_id = await _funded(http, db, "EUR", 10_000)
    return client_id, await topup_form(http)


async def test_a_banned_client_reads_but_changes_nothing(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id, form = await _ready_to_change(http, db)
    topup_id = await start_topup(http, "3")
    await ban(db, client_id)
    page = await http.get(MAIN)
    assert page.status_code == 200
    assert 'id="banned"' in page.text
    assert (await http.get(f"/app/topups/{topup_id}")).status_code == 200
    made = await http.post("/app/topups", data={**form, "amount": "5"})
    assert made.status_code == 403
    assert "blocked" in made.text
    preview = await http.get("/app/convert/preview", params={"from": "EUR", "amount": "10"})
    assert preview.status_code == 403
    posted = await http.post("/app/convert", data=exchange_form(form["csrf_token"], "10"))
    assert posted.status_code == 403
    assert "blocked" in posted.text
    assert await topup_count(db, client_id) == 1
    assert await balances(db, client_id) == {"EUR": 10_000, "USD": 0}


async def test_posts_without_the_csrf_token_are_refused(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id, form = await _ready_to_change(http, db)
    made = await http.post("/app/topups", data={"topup_id": form["topup_id"], "amount": "5"})
    assert made.status_code == 403
    assert "This form has expired" in made.text
    forged = await http.post(
        "/app/topups", data={"csrf_token": "0" * 64, "topup_id": form["topup_id"], "amount": "5"}
    )
    assert forged.status_code == 403
    converted = await http.post("/app/convert", data=exchange_form("", "10"))
    assert converted.status_code == 403
    assert await topup_count(db, client_id) == 0
    assert await balances(db, client_id) == {"EUR": 10_000, "USD": 0}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/app/main/balances", f"/app/topups/{uuid.uuid4()}", "/app/convert/preview"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/app/?next=")
    polled = await client.get("/app/main/balances", headers=HX)
    assert polled.status_code == 204
    assert polled.headers["HX-Redirect"].startswith("/app/")


async def test_simultaneous_taps_make_one_topup_and_one_exchange(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await _funded(http, db, "USD", 2_170)
    form = {**await topup_form(http), "amount": "4"}
    made = await asyncio.gather(*(http.post("/app/topups", data=form) for _ in range(3)))
    assert {r.status_code for r in made} == {303}
    assert len({r.headers["location"] for r in made}) == 1
    assert await topup_count(db, client_id) == 1

    shown = await http.get("/app/convert/preview?from=USD&amount=21.70")
    key = _KEY.search(shown.text)
    assert key
    data = {"from": "USD", "amount": "21.70", "idempotency_key": key.group(1)}
    done = await asyncio.gather(*(post_form(http, MAIN, "/app/convert", data) for _ in range(3)))
    assert {r.status_code for r in done} == {200}
    # 21.70 USD / 1.085 = 20.00 EUR; fee 0.10 EUR.
    assert all("19.90 EUR" in r.text for r in done)
    assert await balances(db, client_id) == {"EUR": 1_990, "USD": 0}
    assert await fx_count(db) == 1
