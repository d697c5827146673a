"""The admin console in a real browser: Debian's Chromium driven by Playwright, over real HTTP.

Enrollment with a pyotp code, then the dashboard; a merchant created (its key shown once); a
session revoked; the action found in the audit log (filtered through htmx); the phone layout; a
devnet payment followed to `completed` on the order page, and a webhook retried.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pyotp
from fastapi import FastAPI, Request
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import update

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import Order
from tests.e2e.conftest import PHONE, needs_chromium
from tests.factories import create_merchant, create_operator, create_payment
from tests.servers import serve
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures
from tests.workers import worker_loops

DESKTOP = {"width": 1440, "height": 900}
pytestmark = needs_chromium


def _watch_errors(page: Page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions of the page."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def _no_sideways_scroll(page: Page, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


async def test_enroll_create_merchant_revoke_session_find_it_in_the_audit_log(
    live_server: str, browser: Browser, db: Database
) -> None:
    boss = await create_operator(
        db, "boss@example.com", role="super_admin", primary=True, with_totp=False
    )
    other = await create_operator(db, "other@example.com")
    context = await browser.new_context(viewport=DESKTOP)
    try:
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
        page = await context.new_page()
        errors = _watch_errors(page)

        # Signed out: the console sends to sign-in; first sign-in sets up 2FA.
        await page.goto(f"{live_server}/admin")
        await expect(page.locator("h1")).to_have_text("Sign in")
        await page.fill("#email", boss.email)
        await page.fill("#password", boss.password)
        await page.click("#sign-in")
        await expect(page.locator("#qr svg")).to_be_visible()
        secret = (await page.locator("#totp-secret").text_content() or "").strip()
        await page.fill("#enroll_code", pyotp.TOTP(secret).now())
        await page.click("#enroll")
        await expect(page.locator("#backup-codes li")).to_have_count(10)
        await page.click("#continue")

        # The quick start, then the gateway's dashboard: cards, chart, times in the browser's zone.
        await expect(page.locator("h1")).to_have_text("Admin quick start")
        await _no_sideways_scroll(page, DESKTOP["width"])
        await page.goto(f"{live_server}/admin/gateway")
        await expect(page.locator("h1")).to_have_text("Dashboard")
        await expect(page.locator("#revenue svg rect.bar")).to_have_count(7)
        await expect(page.locator("#hot-wallet-empty")).to_be_visible()
        await _no_sideways_scroll(page, DESKTOP["width"])

        # A merchant: its key is shown once, with a copy button.
        await page.click("nav.side >> text=Merchants")
        await page.click("#new-merchant")
        await page.fill("#name", "Browser Shop")
        await page.fill("#webhook_secret", "a-long-webhook-secret")
        await page.click("#save")
        key = page.locator("#api-key")
        await expect(key).to_have_text(re.compile(r"^pw_live_\w{36}$"))
        await page.click("#copy-key")
        await expect(page.locator("#api-key-copied")).to_have_text("Copied to the clipboard")
        assert await page.evaluate("navigator.clipboard.readText()") == await key.text_content()
        await page.click("#to-merchant")
        await expect(page.locator("#merchant-status")).to_have_text("active")
        created = page.locator("time").first
        await expect(created).not_to_have_text(re.compile("UTC$"))

        # Another operator's session, revoked by the primary.
        async with httpx.AsyncClient(base_url=live_server) as api:
            signed = await api.post(
                "/api/v1/admin/auth/login",
                json={"email": other.email, "password": other.password, "totp_code": other.code()},
            )
            assert signed.status_code == 200
            await page.click("nav.side >> text=Sessions")
            row = page.locator("#sessions tr", has_text="other@example.com")
            await row.locator("a.revoke").click()
            await page.click("#confirm")
            await expect(page.locator("#notice")).to_have_text("The session is revoked.")
            assert (await api.get("/api/v1/admin/auth/me")).status_code == 401

        # The audit log, filtered by action (htmx swaps the results in and keeps the URL).
        await page.click("nav.side >> text=Audit log")
        await page.fill("#f-action", "session.revoke")
        await page.click("#apply-filters")
        await expect(page).to_have_url(re.compile(r"action=session\.revoke"))
        rows = page.locator("#audit tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("boss@example.com")
        await expect(rows.first.locator("time")).not_to_have_text(re.compile("UTC$"))

        # Focus is visible on keyboard navigation.
        await page.keyboard.press("Tab")
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        assert errors == []
    finally:
        await context.close()


async def test_console_on_a_phone(live_server: str, browser: Browser, db: Database) -> None:
    op = await create_operator(db)
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        errors = _watch_errors(page)
        await page.goto(f"{live_server}/admin/audit")
        await _no_sideways_scroll(page, PHONE["width"])
        await page.fill("#email", op.email)
        await page.fill("#password", op.password)
        await page.fill("#totp_code", op.code())
        await page.click("#sign-in")
        await expect(page.locator("h1")).to_have_text("Audit log")  # back where it was going
        await _no_sideways_scroll(page, PHONE["width"])
        await page.goto(f"{live_server}/admin/gateway")
        await expect(page.locator("#revenue svg")).to_be_visible()
        await _no_sideways_scroll(page, PHONE["width"])
        # The menu is folded to one line naming the page, so the page starts near the top.
        await expect(page.locator("#menu summary")).to_contain_text("Dashboard")
        main_top = await page.evaluate(
            "document.getElementById('main').getBoundingClientRect().top"
        )
        assert main_top < 200, main_top
        await expect(page.locator("#sign-out")).to_be_hidden()
        await page.click("#menu summary")
        await page.click("#sign-out")
        await expect(page.locator("h1")).to_have_text("Sign in")
        await expect(page.locator(".notice")).to_have_text("You are signed out.")
        assert errors == []
    finally:
        await context.close()


async def test_devnet_payment_completes_on_the_order_page_then_a_webhook_is_retried(
    browser: Browser,
    devnet: Devnet,  # noqa: F811 - the fixture
    solidify_depth: int,  # noqa: F811 - the fixture
    make_settings: Callable[..., Settings],
) -> None:
    """The app and the worker's loops (as `paywarden worker` runs them), scanning a devnet served
    over HTTP and sending webhooks to a merchant's receiver over HTTP: the order page follows the
    order by itself."""
    received: list[tuple[str, str]] = []  # (webhook-id, path with query)
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> dict[str, bool]:
        received.append(
            (request.headers["webhook-id"], str(request.url.path + "?" + request.url.query))
        )
        return {"ok": True}

    settings = make_settings(trongrid_url=devnet.url, scan_start_block=0, scan_interval_seconds=0.2)
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    loops = worker_loops(settings)
    await loops.__aenter__()
    try:
        async for hooks_url in serve(receiver):
            async for base in serve(app, lifespan="off"):
                db = app.state.db
                op = await create_operator(db)
                shop = await create_merchant(db, webhook_url=f"{hooks_url}/hook")
                async with httpx.AsyncClient(base_url=base) as api:
                    order = await create_payment(api, shop, amount="12.5")
                context = await browser.new_context(viewport=DESKTOP)
                try:
                    page = await context.new_page()
                    errors = _watch_errors(page)
                    await page.goto(f"{base}/admin/orders/{order['id']}")
                    await page.fill("#email", op.email)
                    await page.fill("#password", op.password)
                    await page.fill("#totp_code", op.code())
                    await page.click("#sign-in")
                    status = page.locator("#order-status")
                    await expect(status).to_have_text("pending")
                    await expect(page.locator("#live-note")).to_be_visible()

                    # Paid on the devnet and final: the open page shows it by itself.
                    paid = await devnet.control.post(
                        "/pay", json={"to": order["address"], "amount": 12_500_000}
                    )
                    assert paid.status_code == 200, paid.text
                    await devnet.mine(solidify_depth + 2)
                    await expect(status).to_have_text("completed", timeout=20_000)
                    await expect(page.locator("#transfers")).to_contain_text("final")
                    await expect(page.locator("#live-note")).to_have_count(0)
                    assert len(received) == 1

                    # The webhook, retried to a one-time URL (as if the merchant had failed it).
                    async with db.transaction() as s:
                        await s.execute(
                            update(Order)
                            .where(Order.id == uuid.UUID(str(order["id"])))
                            .values(status="callback_failed")
                        )
                    await page.reload()
                    await page.fill("#retry-url", f"{hooks_url}/hook?once=1")
                    await page.click("#retry-webhook")
                    await expect(page.locator("#notice")).to_contain_text("queued again")
                    await expect(status).to_have_text("completed", timeout=20_000)
                    await expect(page.locator(".webhook")).to_contain_text("(one-time)")
                    assert [path for _, path in received] == ["/hook?", "/hook?once=1"]
                    assert received[0][0] == received[1][0]  # the same webhook-id
                    assert errors == []
                finally:
                    await context.close()
    finally:
        await loops.__aexit__(None, None, None)
        await lifespan.__aexit__(None, None, None)
