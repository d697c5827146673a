"""The cards dashboard (`/admin/cards`) over HTTP, against the sandbox issuer served for real:
every block with known figures (the same as the overview API's), the period switch, the five
breakdown tabs, the estimates form (saved and audited, refused without CSRF or for an operator,
bad values shown), the SVG charts, the Telegram bot's health and queue, and the page with cards
off."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, TreasuryEstimate
from paywarden.plans.amounts import format_cents
from tests.card_transaction_review.test_card_transactions import create_card, create_tx
from tests.client_admin.bot_notifications import beat, told
from tests.clients.test_auth import make_client
from tests.conftest import client_for
from tests.console.helpers import csrf_in, post_form
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, needs_chromium
from tests.factories import TestOperator, create_operator, sign_in
from tests.issuer.stack import IssuerStack, running_stack

PAGE = "/admin/cards"
BREAKDOWN = "/admin/cards/breakdown"
SAVE = "/admin/cards/estimates"
OVERVIEW = "/api/v1/admin/analytics/overview"


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(make_settings) as s:
        yield s


@pytest.fixture
async def shop(stack: IssuerStack) -> dict[str, Any]:
    """Today: two clients, three active cards, three approved purchases and two declines."""
    db = stack.db
    now = utcnow() - timedelta(seconds=5)
    ann, bob = await make_client(db, "tg_100"), await make_client(db, "tg_200")
    ann_eur, ann_usd = await create_card(db, ann), await create_card(db, ann, "USD")
    bob_eur = await create_card(db, bob)
    await create_tx(db, ann_eur, status="approved", amount=3000, created_at=now)
    await create_tx(
        db,
        ann_usd,
        status="approved",
        amount=1500,
        merchant="Steam Games",
        mcc="5816",
        created_at=now,
    )
    await create_tx(db, bob_eur, status="approved", amount=500, created_at=now)
    await create_tx(
        db,
        bob_eur,
        status="declined",
        decline_reason="insufficient_funds",
        merchant="Uber Trip",
        mcc="4121",
        created_at=now,
    )
    await create_tx(
        db,
        bob_eur,
        status="declined",
        decline_reason="do_not_honor",
        merchant="Uber Trip",
        mcc="4121",
        created_at=now,
    )
    return {"ann": ann, "bob": bob}


@contextlib.asynccontextmanager
async def signed_in(
    stack: IssuerStack, role: str = "super_admin"
) -> AsyncIterator[httpx.AsyncClient]:
    op: TestOperator = await create_operator(stack.db, f"{role}@example.com", role=role)
    async with client_for(stack.app) as client:
        await sign_in(client, op)
        yield client


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def block(page: str, block_id: str) -> str:
    """The text of `<section ... id="block_id">` up to its end."""
    start = page.index(f'id="{block_id}"')
    return text_of(page[start : page.index("</section>", start)])


async def test_every_block_with_the_api_figures(stack: IssuerStack, shop: dict[str, Any]) -> None:
    async with signed_in(stack) as client:
        response = await client.get(PAGE)
        assert response.status_code == 200, response.text
        page = response.text
        api = (await client.get(OVERVIEW)).json()
    order = [
        "coverage",
        "issuer-balances",
        "estimates",
        "inventory",
        "lifecycle",
        "money-flow",
        "revenue",
        "quality",
        "webhook-transactions",
        "operator-sessions",
        "risk-3ds",
        "health",
        "charts",
    ]
    positions = [page.index(f'id="{name}"') for name in order]
    assert positions == sorted(positions)  # the seed's order
    assert 'aria-current="page">Dashboard' in page  # the menu marks it

    balances = stack.sandbox.balances
    issuer = block(page, "issuer-balances")
    for c in ("EUR", "USD"):
        amount = format_cents(balances[c])
        assert api["issuer"]["balances"][c]["amount"] == amount
        assert f"{float(amount):,.2f} {c}" in issuer
    assert "Provider: ok" in issuer

    inventory = block(page, "inventory")
    assert "Active cards — EUR 2" in inventory
    assert "Active cards — USD 1" in inventory
    assert "Active cards — Total 3" in inventory
    assert "Total assigned limit (EUR) 2,000.00 EUR" in inventory
    assert api["cards"]["assigned_limit"] == {"EUR": "2000.00", "USD": "1000.00"}

    lifecycle = block(page, "lifecycle")
    assert "New cards created 3" in lifecycle
    assert "Closed cards 0" in lifecycle

    flow = block(page, "money-flow")
    spend = api["spend"]["today"]
    assert f"Transactions count (today) {api['spend']['count_today']}" in flow
    assert f"{float(spend['EUR']):,.2f} EUR · {float(spend['USD']):,.2f} USD" in flow
    assert "Net flow (Top-ups - Spend)" in flow

    revenue = block(page, "revenue")
    for name in ("Top-up fees", "FX fees", "Card fees (issue/monthly/other)", "MTD"):
        assert name in revenue

    quality = block(page, "quality")
    assert api["quality"]["approval_rate_3d"] == "60.00"
    assert "Approval rate (3d) 60.00 %" in quality
    assert "Decline rate (3d) 40.00 %" in quality
    assert "Insufficient funds 1" in quality
    assert "Do not honor 1" in quality
    assert "3DS required/failed 0" in quality

    sessions = block(page, "operator-sessions")
    assert "super_admin@example.com" in sessions
    assert "this session" in sessions

    risk = block(page, "risk-3ds")
    assert "3DS requests today 0" in risk
    health = block(page, "health")
    assert "Provider API status ok" in health
    assert f"Failed webhooks (24h) {api['health']['failed_webhooks_24h']}" in health

    assert api["coverage"]["note"] in text_of(page)


async def test_the_health_block_tells_of_the_bot_and_its_queue(stack: IssuerStack) -> None:
    db = stack.db
    async with signed_in(stack) as client:

        async def bot_health() -> str:
            response = await client.get(PAGE)
            assert response.status_code == 200, response.text
            return block(response.text, "health")

        never = await bot_health()
        assert "Bot status never started" in never
        assert "TELEGRAM_BOT_TOKEN" in never
        assert "Notifications waiting 0" in never
        assert "Oldest waiting —" in never
        assert "Sent / failed / blocked (24h) 0 / 0 / 0" in never

        now = utcnow()

        await beat(db, now, mode="webhook")
        ann = await make_client(db, "tg_900")
        await told(db, ann.id, "code_3ds", "pending", created_at=now - timedelta(minutes=5))
        await told(db, ann.id, "low_balance", "sending", created_at=now)
        await told(db, ann.id, "topup_credited", "sent", created_at=now - timedelta(hours=1))
        await told(db, ann.id, "card_declined", "failed", created_at=now - timedelta(hours=1))
        running = await bot_health()
        assert "Bot status running" in running
        assert "Bot @paywarden_bot" in running
        assert "Mode webhook" in running
        assert "Last error —" in running
        assert "Notifications waiting 1 + 1 being sent" in running
        assert "Oldest waiting 5 min" in running
        assert "Sent / failed / blocked (24h) 1 / 1 / 0" in running

        await beat(db, now - timedelta(minutes=3), last_error="Unauthorized")
        stopped = await bot_health()
        assert "Bot status stopped last seen" in stopped
        assert "Last error Unauthorized" in stopped


async def test_the_period_switch(stack: IssuerStack, shop: dict[str, Any]) -> None:
    async with signed_in(stack) as client:
        today = (await client.get(PAGE)).text
        assert re.search(r'href="/admin/cards\?period=7d&amp;tab=merchant"', today)
        for period in ("today", "7d", "30d", "mtd"):
            page = (await client.get(PAGE, params={"period": period})).text
            api = (await client.get(OVERVIEW, params={"period": period})).json()
            assert f"Period: {api['from']} to {api['to']}" in text_of(page)
            current = re.search(
                r'<a class="button" href="[^"]*period=(\w+)[^"]*" aria-current', page
            )
            assert current
            assert current.group(1) == period
        # An unknown period shows today's, never an error.
        bad = await client.get(PAGE, params={"period": "year"})
        assert bad.status_code == 200
        assert f"Period: {utcnow().date().isoformat()}" in text_of(bad.text)


@pytest.mark.parametrize(
    ("tab", "rows"),
    [
        ("merchant", ["Amazon EU", "Uber Trip", "Steam Games"]),
        ("decline_reason", ["do_not_honor", "insufficient_funds"]),
        ("mcc", ["5311", "4121", "5816"]),
        ("client_volume", ["tg_100", "tg_200"]),
        ("client_declines", ["tg_200"]),  # only clients with declines
    ],
)
async def test_each_tab(
    stack: IssuerStack, shop: dict[str, Any], tab: str, rows: list[str]
) -> None:
    async with signed_in(stack) as client:
        page = (await client.get(BREAKDOWN, params={"tab": tab})).text
    table = page[page.index('id="breakdown"') : page.index("</table>")]
    labels = re.findall(r'<a href="(/admin/card-transactions\?[^"]*)">([^<]*)</a>', table)
    assert sorted(label for _, label in labels) == sorted(rows)
    today = utcnow().date().isoformat()
    for link, label in labels:
        link = html.unescape(link)
        assert f"from={today}" in link
        assert f"to={today}" in link
        if tab in ("client_volume", "client_declines"):
            owner = shop["ann"] if label == "tg_100" else shop["bob"]
            assert f"client_id={owner.id}" in link
        elif tab == "decline_reason":
            assert f"decline_reason={label}" in link
            assert "status=declined" in link
    assert re.search(
        rf'href="/admin/cards/breakdown\?period=today&amp;tab={tab}"[^>]*aria-current', page
    )


async def test_the_dashboard_loads_the_tabs_after_it_is_shown(
    stack: IssuerStack, shop: dict[str, Any]
) -> None:
    """Grouping a month of transactions is the costly read: the dashboard asks for it with htmx
    (and offers the page of its own without JS); htmx gets the fragment, a browser the page."""
    async with signed_in(stack) as client:
        page = (await client.get(PAGE, params={"period": "7d", "tab": "mcc"})).text
        fragment = await client.get(
            BREAKDOWN, params={"period": "7d", "tab": "mcc"}, headers={"HX-Request": "true"}
        )
        whole = await client.get(BREAKDOWN, params={"period": "7d", "tab": "mcc"})
        unknown = await client.get(BREAKDOWN, params={"period": "year", "tab": "nope"})
    box = re.search(r'<div id="breakdown-box" hx-get="([^"]+)" hx-trigger="load"', page)
    assert box
    assert html.unescape(box.group(1)) == f"{BREAKDOWN}?period=7d&tab=mcc"
    assert 'id="breakdown"' not in page
    assert f'<a href="{box.group(1)}" id="breakdown-link">' in page  # inside <noscript>
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="breakdown"' in fragment.text
    assert "5311" in fragment.text
    assert whole.status_code == 200
    assert "<html" in whole.text
    assert 'id="breakdown"' in whole.text
    assert 'id="period-switch"' in whole.text
    # Unknown choices are today's merchants, never an error.
    assert unknown.status_code == 200
    assert re.search(r'tab=merchant"[^>]*aria-current', unknown.text)


async def test_an_empty_tab_says_what_to_do(stack: IssuerStack) -> None:
    async with signed_in(stack) as client:
        page = (await client.get(BREAKDOWN)).text
    assert 'id="breakdown-empty"' in page
    assert "Pick a longer period" in page


async def test_the_charts_are_svg_with_titles(stack: IssuerStack, shop: dict[str, Any]) -> None:
    async with signed_in(stack) as client:
        page = (await client.get(PAGE)).text
    today = utcnow().date().isoformat()
    for chart_id, title in (
        ("chart-flow-eur", "Money flow, last 30 days (EUR): top-ups vs spend"),
        ("chart-flow-usd", "Money flow, last 30 days (USD): top-ups vs spend"),
        ("chart-approval", "Approval rate per day, last 30 days, percent"),
        ("chart-declines", "Decline reasons per day, last 30 days"),
    ):
        start = page.index(f'id="{chart_id}"')
        svg = page[start : page.index("</svg>", start)]
        assert '<svg viewBox="0 0 360 200" width="100%"' in svg
        assert f"<title>{title}</title>" in svg
    assert f"<title>{today} · Approval rate: 60.00 %</title>" in page
    assert f"<title>{today} · Insufficient funds: 1</title>" in page
    assert f"<title>{today} · Do not honor: 1</title>" in page
    # 30 days of each series: a mark per day.
    flow = page[page.index('id="chart-flow-eur"') : page.index('id="chart-flow-usd"')]
    assert flow.count("<rect") == 60


async def test_the_estimates_form_saves_and_audits(stack: IssuerStack) -> None:
    async with signed_in(stack) as client:
        page = (await client.get(PAGE)).text
        assert 'id="estimates-form"' in page
        assert "no outflow in the last 7 days" in block(page, "estimates")  # the reason
        response = await post_form(
            client,
            PAGE,
            SAVE,
            {
                "pending_EUR": "120.50",
                "pending_USD": "0",
                "holds_EUR": "10",
                "holds_USD": "5.25",
                "runway_days_override": "12",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/cards?done=estimates#estimates"
        page = (await client.get(response.headers["location"])).text
        assert "Estimates saved." in page
        assert 'name="pending_EUR" value="120.50"' in page
        assert 'name="holds_USD" value="5.25"' in page
        estimates = block(page, "estimates")
        assert "12.00 days" in estimates
        assert "The operators' override." in estimates
        assert "Last saved by super_admin@example.com" in estimates
        api = (await client.get("/api/v1/admin/analytics/estimates")).json()
        assert api["pending_settlements"] == {"EUR": "120.50", "USD": "0.00"}
        assert api["runway_days_override"] == 12
        # Emptying the override clears it.
        cleared = await post_form(
            client,
            PAGE,
            SAVE,
            {
                "pending_EUR": "120.50",
                "pending_USD": "0",
                "holds_EUR": "10",
                "holds_USD": "5.25",
                "runway_days_override": "",
            },
        )
        assert cleared.status_code == 303
        api = (await client.get("/api/v1/admin/analytics/estimates")).json()
        assert api["runway_days_override"] is None
    async with stack.db.transaction() as s:
        audits = list(
            await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "analytics.estimates.update")
            )
        )
        assert len(audits) == 2
        assert audits[0].details["new"]["pending_settlements"]["EUR"] == "120.50"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pending_EUR", "abc", "pending_settlements.EUR"),
        ("holds_USD", "1.234", "provider_holds.USD"),
        ("runway_days_override", "ten", "runway_days_override must be a whole number"),
        ("runway_days_override", "-1", "runway_days_override must be 0 to 3650"),
    ],
)
async def test_bad_estimates_re_render_with_the_error(
    stack: IssuerStack, field: str, value: str, message: str
) -> None:
    form = {
        "pending_EUR": "1",
        "pending_USD": "2",
        "holds_EUR": "3",
        "holds_USD": "4",
        "runway_days_override": "",
    }
    form[field] = value
    async with signed_in(stack) as client:
        response = await post_form(client, PAGE, SAVE, form)
    assert response.status_code == 400
    error = block(response.text, "estimates")
    assert message in error
    assert f'name="{field}" value="{value}"' in response.text  # what was typed is kept
    async with stack.db.transaction() as s:
        assert await s.scalar(select(TreasuryEstimate.id)) is None
        assert (
            await s.scalar(select(AuditEntry.id).where(AuditEntry.action.like("analytics%")))
            is None
        )


async def test_estimates_need_csrf_and_a_super_admin(stack: IssuerStack) -> None:
    data = {"pending_EUR": "1", "pending_USD": "1", "holds_EUR": "1", "holds_USD": "1"}
    async with signed_in(stack) as boss:
        for token in ({}, {"csrf_token": "forged"}):
            refused = await boss.post(SAVE, data={**data, **token})
            assert refused.status_code == 403
            assert "did not come from this console" in refused.text
    async with signed_in(stack, "operator") as op:
        page = (await op.get(PAGE)).text
        assert 'id="estimates-form"' not in page  # the figures, not the form
        assert 'id="estimates-figures"' in page
        assert "Only a super admin can change the estimates." in page
        refused = await op.post(SAVE, data={**data, "csrf_token": csrf_in(page)})
        assert refused.status_code == 403
        assert "Not allowed" in refused.text
    async with stack.db.transaction() as s:
        assert await s.scalar(select(TreasuryEstimate.id)) is None


async def test_with_cards_off_the_page_says_so(make_settings: Callable[..., Settings]) -> None:
    from tests.conftest import start_app

    app, lifespan = await start_app(make_settings(issuer="none"))
    try:
        op = await create_operator(app.state.db, "ops@example.com")
        async with client_for(app) as client:
            await sign_in(client, op)
            response = await client.get(PAGE)
        assert response.status_code == 200
        assert 'id="cards-off"' in response.text
        assert "Cards are off" in response.text
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_signed_out_goes_to_sign_in(stack: IssuerStack) -> None:
    async with client_for(stack.app) as client:
        response = await client.get(PAGE)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/cards"


@needs_chromium
async def test_a_phone_reads_it_without_sideways_scrolling(
    stack: IssuerStack, shop: dict[str, Any]
) -> None:
    op = await create_operator(stack.db, "phone@example.com", role="super_admin")
    # A bot's last error is one long word at worst (a URL, a token-like id): it must wrap.
    await beat(stack.db, utcnow(), last_error="ConnectError:" + "x" * 300)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=PHONE)
            await page.goto(stack.url + "/admin/login?next=/admin/cards")
            await page.fill("input[name=email]", op.email)
            await page.fill("input[name=password]", op.password)
            await page.fill("input[name=totp_code]", op.code())
            await page.click("button[type=submit]")
            for tab in ("merchant", "client_volume"):
                await page.goto(f"{stack.url}{PAGE}?tab={tab}")
                assert await page.locator("#chart-approval svg").is_visible()
                # htmx brings the tab's table into the dashboard after it is shown.
                await page.locator("#breakdown").wait_for(state="attached")
                assert await page.locator("#breakdown-loading").count() == 0
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], tab
            # A tab swaps the table in place: the dashboard stays, the tab becomes current.
            await page.click("#tabs >> text=MCC")
            await page.locator('#tabs a[aria-current="page"]:has-text("MCC")').wait_for()
            assert page.url.endswith(f"{PAGE}?tab=client_volume")
            await page.set_viewport_size({"width": 1440, "height": 900})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1440
        finally:
            await browser.close()
