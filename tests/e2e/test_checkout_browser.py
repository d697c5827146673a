"""The hosted checkout in a real browser: Debian's Chromium driven by Playwright, over real HTTP.

The app is served by uvicorn on 127.0.0.1 inside the test's event loop; the `app` fixture has
already run the lifespan, so the server runs with `lifespan="off"`.
"""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from paywarden.kit.db import Database
from paywarden.models import Order
from tests.e2e.conftest import PHONE, needs_chromium
from tests.factories import create_merchant, create_payment

pytestmark = needs_chromium


async def _open_order(base_url: str, db: Database) -> dict[str, object]:
    merchant = await create_merchant(db)
    async with httpx.AsyncClient(base_url=base_url) as api:
        return await create_payment(api, merchant, amount="12.5")


def _watch_errors(page: Page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions of the page."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def test_checkout_on_a_phone_updates_itself_when_paid(
    live_server: str, browser: Browser, db: Database
) -> None:
    payment = await _open_order(live_server, db)
    url = f"{live_server}/pay/{payment['id']}"
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
        page = await context.new_page()
        errors = _watch_errors(page)
        response = await page.goto(url)
        assert response is not None
        assert response.status == 200

        await expect(page.locator("#merchant")).to_have_text("My Shop")
        await expect(page.locator("#amount")).to_have_text("12.500000 USDT")
        await expect(page.locator("#amount")).to_be_visible()
        await expect(page.locator("#network")).to_contain_text("TRON network (TRC-20)")
        await expect(page.locator("#address")).to_have_text(str(payment["address"]))
        await expect(page.locator("#address")).to_be_visible()
        await expect(page.locator("svg.qr-code")).to_be_visible()
        qr = await page.locator("svg.qr-code").bounding_box()
        assert qr is not None
        assert qr["width"] >= 150  # big enough to scan
        await expect(page.locator("#status-title")).to_have_text("Waiting for payment")
        # Nothing sticks out sideways on a 390 px screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]

        # The copy button puts the address on the clipboard and says so.
        copy = page.locator("#copy-address")
        await expect(copy).to_be_visible()
        await copy.click()
        await expect(page.locator("#copy-feedback")).to_have_text("Address copied")
        await expect(copy).to_have_text("Copied")
        assert await page.evaluate("navigator.clipboard.readText()") == payment["address"]

        # The countdown runs.
        countdown = page.locator("#countdown")
        await expect(countdown).to_be_visible()
        await expect(countdown).to_have_text(re.compile(r"^(59|60):\d\d$"))
        first = await countdown.text_content()
        await expect(countdown).not_to_have_text(first or "", timeout=3000)

        # Paid on chain: the open page turns to "Paid" by polling, without a reload.
        await page.evaluate("window.__sameDocument = true")
        async with db.transaction() as s:
            order = await s.get(Order, uuid.UUID(str(payment["id"])))
            assert order is not None
            order.status = "completed"
            order.amount_received = order.amount_expected
        await expect(page.locator("#status-title")).to_have_text("Paid", timeout=10_000)
        await expect(page.locator("#status")).to_have_attribute("data-state", "paid")
        await expect(page.locator("#pay")).to_be_hidden()
        await expect(page.locator("#copy-amount")).to_be_hidden()
        assert await page.evaluate("window.__sameDocument") is True
        assert await page.title() == "Paid · 12.500000 USDT to My Shop"

        # Polling stops once the order is final.
        polls: list[str] = []
        page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/status") else None)
        await page.wait_for_timeout(4000)
        assert polls == []
        assert errors == []
    finally:
        await context.close()


async def test_checkout_works_without_javascript(
    live_server: str, browser: Browser, db: Database
) -> None:
    payment = await _open_order(live_server, db)
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = await context.new_page()
        response = await page.goto(f"{live_server}/pay/{payment['id']}")
        assert response is not None
        assert response.status == 200

        await expect(page.locator("#amount")).to_have_text("12.500000 USDT")
        await expect(page.locator("#address")).to_have_text(str(payment["address"]))
        await expect(page.locator("#status-title")).to_have_text("Waiting for payment")
        await expect(page.locator("svg.qr-code")).to_be_visible()
        expires = str(payment["expires_at"])
        await expect(page.locator("#expires")).to_have_text(f"{expires[:10]} {expires[11:16]} UTC")
        await expect(page.locator("#expires")).to_be_visible()
        # What needs a script stays out of the way.
        await expect(page.locator("#copy-address")).to_be_hidden()
        await expect(page.locator("#countdown-wrap")).to_be_hidden()
        await expect(page.locator("noscript")).to_have_count(2)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    finally:
        await context.close()


async def test_unknown_order_in_the_browser(live_server: str, browser: Browser) -> None:
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        errors = _watch_errors(page)
        response = await page.goto(f"{live_server}/pay/{uuid.uuid4()}")
        assert response is not None
        assert response.status == 404
        await expect(page.locator("h1")).to_have_text("Payment not found")
        assert errors == [] or all("404" in e for e in errors)
    finally:
        await context.close()
