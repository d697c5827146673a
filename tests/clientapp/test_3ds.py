"""The 3-D Secure tab: live codes (polled as a fragment that answers 204 while nothing changed),
the history with each code's outcome, never another client's codes; with a Telegram session and
a web session, on both databases. Codes arrive as the issuer sends them: signed webhooks, and
a 3-D Secure purchase at the sandbox issuer over real HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Card, Code3ds
from tests.banners.conftest import create as create_banner
from tests.card_transactions.conftest import Buyer, authorization, authorize, event, send, tx_data
from tests.clientapp.conftest import MAX_HTML, SESSIONS, client_id_of, telegram_sign_in
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN, ban, web_login
from tests.issuer.stack import IssuerStack, running_stack
from tests.subscriptions.conftest import fund

PAGE = "/app/3ds"
FRAGMENT = "/app/3ds/pending"
HX = {"HX-Request": "true"}
_SEEN = re.compile(r'hx-get="/app/3ds/pending\?seen=([0-9a-f]+)"')


async def give_card(
    db: Database, client_id: uuid.UUID, *, last4: str = "4242", currency: str = "EUR"
) -> Buyer:
    """A card of the client's (a row as the cards service writes it; the issuer not asked)."""
    async with db.transaction() as session:
        card = Card(
            client_id=client_id,
            issuer="sandbox",
            issuer_card_id=f"card_{uuid.uuid4().hex[:12]}",
            currency=currency,
            monthly_limit=50_000,
            spent_this_month=0,
            status="active",
            last4=last4,
        )
        session.add(card)
        await session.flush()
        return Buyer(client_id, card.id, card.issuer_card_id, currency)


async def send_code(
    http: httpx.AsyncClient,
    settings: Settings,
    buyer: Buyer,
    otp: str,
    *,
    merchant: str = "Coffee Shop",
    minutes: float = 5,
) -> str:
    """The issuer's `authentication.otp` webhook for a new purchase of 21.50 USD; its id."""
    tx_id = f"tx_{uuid.uuid4().hex[:12]}"
    expires = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    data = tx_data(
        buyer,
        tx_id,
        1_999,
        otp=otp,
        expires_at=expires,
        transaction_amount="21.50",
        transaction_currency="USD",
        merchant={"name": merchant, "mcc": "5814", "country": "DE"},
    )
    await send(http, settings, event("authentication.otp", data))
    return tx_id


async def lapse(db: Database, tx_id: str) -> None:
    """The code's time passes (the worker has not marked it expired yet)."""
    async with db.transaction() as session:
        await session.execute(
            update(Code3ds)
            .where(Code3ds.issuer_reference == tx_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def seen_of(html: str) -> str:
    found = _SEEN.search(html)
    assert found, "no polled pending block"
    return found.group(1)


async def test_page_shows_live_codes_and_the_history(
    http: httpx.AsyncClient, db: Database, settings: Settings, admin_client: httpx.AsyncClient
) -> None:
    buyer = await give_card(db, await client_id_of(http), last4="1234")
    await fund(db, buyer.client_id, "EUR", 10_000)
    used = await send_code(http, settings, buyer, "111111", merchant="Used Shop")
    body = authorization(buyer, 1_000, tx_id=used, three_ds=True)
    assert (await authorize(http, settings, body))["approved"]
    lapsed = await send_code(http, settings, buyer, "222222", merchant="Late Shop")
    await lapse(db, lapsed)
    await send_code(http, settings, buyer, "345678", merchant="Book Shop")
    banner = await create_banner(admin_client, page="3ds")

    page = await http.get(PAGE)
    assert page.status_code == 200
    assert len(page.content) < MAX_HTML
    html = page.text
    assert 'id="banner"' in html
    assert banner["id"] in html
    assert "/static/3ds.css" in html
    pending = html[html.index('id="pending"') : html.index('id="history"')]
    assert 'hx-trigger="every 2s"' in pending
    assert 'hx-swap="outerHTML"' in pending
    assert ">345678<" in pending
    assert "Book Shop" in pending
    assert "21.50 USD" in pending
    assert "•••• 1234" in pending
    assert 'data-copy="code-value-' in pending
    found = re.search(r'data-countdown="([^"]+)"', pending)
    assert found
    assert found.group(1).endswith("Z")
    assert re.search(r'data-countdown="[^"]+" data-expired-text="Expired">[0-5]:\d\d<', pending)
    assert "Used Shop" not in pending
    assert "Late Shop" not in pending
    history = html[html.index('id="history"') :]
    assert "Used Shop" in history
    assert "Late Shop" in history
    assert "111111" not in html
    assert "222222" not in html
    assert ">Used<" in history
    assert ">Expired<" in history
    assert 'href="/app/3ds" id="refresh"' in html or 'id="refresh" href="/app/3ds"' in html


async def test_a_new_code_appears_in_the_polled_fragment(
    http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await give_card(db, await client_id_of(http), last4="9876")
    page = await http.get(PAGE)
    assert 'id="no-pending"' in page.text
    seen = seen_of(page.text)
    unchanged = await http.get(FRAGMENT, params={"seen": seen}, headers=HX)
    assert unchanged.status_code == 204
    assert not unchanged.content

    tx_id = await send_code(http, settings, buyer, "424242", merchant="Live Shop")
    fresh = await http.get(FRAGMENT, params={"seen": seen}, headers=HX)
    assert fresh.status_code == 200
    assert fresh.headers["cache-control"] == "no-store"
    assert "<html" not in fresh.text
    assert ">424242<" in fresh.text
    assert "Live Shop" in fresh.text
    assert "•••• 9876" in fresh.text
    assert 'id="history" aria-labelledby="history-title" hx-swap-oob="true"' in fresh.text
    newer = seen_of(fresh.text)
    assert newer != seen
    again = await http.get(FRAGMENT, params={"seen": newer}, headers=HX)
    assert again.status_code == 204

    # Typed and authorized: the block empties and the history gains it, on the next poll.
    await fund(db, buyer.client_id, "EUR", 5_000)
    body = authorization(buyer, 1_000, tx_id=tx_id, three_ds=True, merchant="Live Shop")
    assert (await authorize(http, settings, body))["approved"]
    spent = await http.get(FRAGMENT, params={"seen": newer}, headers=HX)
    assert spent.status_code == 200
    assert "424242" not in spent.text
    assert 'id="no-pending"' in spent.text
    assert "Live Shop" in spent.text
    assert ">Used<" in spent.text


async def test_a_lapsed_code_leaves_the_block(
    http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await give_card(db, await client_id_of(http))
    tx_id = await send_code(http, settings, buyer, "555000")
    seen = seen_of((await http.get(PAGE)).text)
    await lapse(db, tx_id)
    lapsed = await http.get(FRAGMENT, params={"seen": seen}, headers=HX)
    assert lapsed.status_code == 200
    assert "555000" not in lapsed.text
    assert ">Expired<" in lapsed.text


async def test_the_fragment_without_htmx_is_the_page(http: httpx.AsyncClient) -> None:
    response = await http.get(FRAGMENT)
    assert (response.status_code, response.headers["location"]) == (303, PAGE)


async def test_another_clients_codes_never_appear(
    http: httpx.AsyncClient, other_tg: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    mine = await give_card(db, await client_id_of(http))
    theirs = await give_card(db, await client_id_of(other_tg), last4="7777")
    await send_code(http, settings, mine, "101010", merchant="My Shop")
    await send_code(http, settings, theirs, "909090", merchant="Their Shop")
    spent = await send_code(http, settings, theirs, "808080", merchant="Their Old Shop")
    await lapse(db, spent)
    for response in (
        await http.get(PAGE),
        await http.get(FRAGMENT, params={"seen": "0"}, headers=HX),
    ):
        assert response.status_code == 200
        assert "101010" in response.text
        assert "My Shop" in response.text
        for theirs_shown in ("909090", "Their Shop", "Their Old Shop", "7777"):
            assert theirs_shown not in response.text
    other_page = await other_tg.get(PAGE)
    assert "909090" in other_page.text
    assert "101010" not in other_page.text


async def test_a_banned_client_reads_its_codes(
    http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await give_card(db, await client_id_of(http))
    await send_code(http, settings, buyer, "737373")
    await ban(db, buyer.client_id)
    page = await http.get(PAGE)
    assert page.status_code == 200
    assert 'id="banned"' in page.text
    assert ">737373<" in page.text
    fragment = await http.get(FRAGMENT, params={"seen": "0"}, headers=HX)
    assert fragment.status_code == 200
    assert ">737373<" in fragment.text


async def test_a_visitor_without_a_session_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get(PAGE)
    assert (page.status_code, page.headers["location"]) == (303, "/app/?next=/app/3ds")
    polled = await client.get(FRAGMENT, headers=HX)
    assert polled.status_code == 204
    assert polled.headers["hx-redirect"].startswith("/app/")


async def test_html_stays_small_with_a_full_history(
    http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await give_card(db, await client_id_of(http))
    for n in range(25):
        tx_id = await send_code(http, settings, buyer, f"{n:06d}", merchant="M" * 200)
        if n < 22:
            await lapse(db, tx_id)
    page = await http.get(PAGE)
    assert page.status_code == 200
    assert page.text.count('class="code-box"') == 3
    assert page.text.count('id="past-') == 20
    assert len(page.content) < MAX_HTML


# A 3-D Secure purchase at the sandbox issuer, over real HTTP


async def _sandbox_card(stack: IssuerStack, client_id: uuid.UUID) -> Card:
    """A EUR card made at the sandbox through the adapter, and our row of it."""
    issued = await stack.adapter.create_card(
        currency="EUR", monthly_limit=100_000, label=None, reference=str(uuid.uuid4())
    )
    async with stack.db.transaction() as session:
        card = Card(
            client_id=client_id,
            issuer="sandbox",
            issuer_card_id=issued.issuer_card_id,
            currency="EUR",
            monthly_limit=100_000,
            spent_this_month=0,
            status="active",
            last4=issued.last4,
        )
        session.add(card)
    return card


@pytest.mark.parametrize("session", SESSIONS)
async def test_a_sandbox_3ds_purchase_shows_in_the_tabs(
    session: str, make_settings: Callable[..., Settings]
) -> None:
    overrides = {"bot_api_token": BOT_TOKEN, "telegram_bot_token": TELEGRAM_TOKEN}
    async with running_stack(make_settings, **overrides) as stack:
        if session == "tg":
            await telegram_sign_in(stack.http, 777000333)
        else:
            await web_login(stack.http, stack.db, "sandbox@example.com")
        client_id = await client_id_of(stack.http)
        card = await _sandbox_card(stack, client_id)
        await fund(stack.db, client_id, "EUR", 5_000)
        seen = seen_of((await stack.http.get(PAGE)).text)

        passed = await stack.purchase(card.issuer_card_id, "12.00", "Sandbox Books", three_ds=True)
        assert passed["approved"] is True
        polled = await stack.http.get(FRAGMENT, params={"seen": seen}, headers=HX)
        assert polled.status_code == 200
        assert "Sandbox Books" in polled.text
        assert ">Used<" in polled.text
        assert f"•••• {card.last4}" in polled.text

        failed = await stack.purchase(card.issuer_card_id, "13.00", "Fail Books", three_ds="fail")
        assert (failed["approved"], failed["decline_reason"]) == (False, "3ds_failed")
        page = await stack.http.get(PAGE)
        history = page.text[page.text.index('id="history"') :]
        assert "Fail Books" in history
        assert ">Declined<" in history
        tx = await stack.http.get("/app/tx", params={"status": "declined"})
        assert tx.status_code == 200
        assert "Fail Books" in tx.text
        assert "Sandbox Books" not in tx.text
        assert "The confirmation code was wrong or not entered in time." in tx.text
