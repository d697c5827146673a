"""The client app in a real browser: Debian's Chromium on a 390 px phone, opened as Telegram
opens a Mini App (the signed launch data in the URL fragment), against the app served over real
HTTP with the sandbox issuer and a devnet.

After each step: the visible result, no sideways scrolling, no console errors (a CSP violation
is one).
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.async_api import Browser, expect
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.console import i18n
from paywarden.models import Card
from tests.e2e.clientapp import client_app_stack, fits, launch_url, phone, watch_errors
from tests.e2e.conftest import needs_chromium
from tests.subscriptions.conftest import make_plan, set_rate
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures

pytestmark = needs_chromium


async def test_the_mini_app_signs_in_from_the_fragment_in_telegram_colours(
    browser: Browser,
    make_settings: Callable[..., Settings],
    devnet: Devnet,  # noqa: F811
) -> None:
    async with client_app_stack(make_settings, devnet) as s, phone(browser) as context:
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(launch_url(s.url, 555000111, first_name="Maria"))
        await page.wait_for_url(f"{s.url}/app/main")
        await expect(page.locator("#balances")).to_be_visible()
        await expect(page.locator("#who")).to_have_text("Maria Lee")
        # Telegram's dark theme from the fragment, kept for the next pages.
        html = page.locator("html")
        await expect(html).to_have_attribute("data-theme", "dark")
        await page.goto(f"{s.url}/app/main")
        await expect(html).to_have_attribute("data-theme", "dark")
        await expect(page.locator("#tab-main")).to_have_attribute("aria-current", "page")
        cookies = {c["name"]: c for c in await context.cookies()}
        assert cookies["client_token"]["httpOnly"] is True
        await fits(page, errors, "signed in")


async def test_a_client_tops_up_issues_a_card_gets_a_code_changes_plan_and_reads_russian(
    browser: Browser,
    make_settings: Callable[..., Settings],
    devnet: Devnet,  # noqa: F811
) -> None:
    async with client_app_stack(make_settings, devnet) as s, phone(browser) as context:
        db = s.stack.db
        await make_plan(db, "Start", is_default=True, card_issue_fee=0, cards_included=1)
        pro = await make_plan(db, "Pro", monthly_fee=500, cards_included=3, sort_order=2)
        await set_rate(db, 1_085_000)
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(launch_url(s.url, 555000222, first_name="Ivan"))
        await page.wait_for_url(f"{s.url}/app/main")

        # Top up 25 USDT: the address to pay, then the open wallet changes by itself.
        await page.fill("#f-amount", "25")
        await page.click("#topup-button")
        await expect(page.locator("#topup-status")).to_have_attribute("data-state", "waiting")
        address = (await page.locator("#topup-address").text_content() or "").strip()
        await fits(page, errors, "top-up page")
        await page.click("#tab-main")
        await expect(page.locator("#balance-USD")).to_have_text("0.00 USD")
        await page.evaluate("window.__sameDocument = true")
        await s.pay_and_confirm(address, 25_000_000)
        await expect(page.locator("#balance-USD")).to_have_text("25.00 USD", timeout=10_000)
        assert await page.evaluate("window.__sameDocument") is True  # no reload
        await fits(page, errors, "wallet after the top-up")

        # Issue a USD card: the fee and slots first, then the card.
        await page.click("#tab-card")
        await page.check("input[name=currency][value=USD]")
        await page.fill("#f-monthly_limit", "100")
        await page.click("#issue-button")
        await expect(page.locator("#confirm")).to_contain_text("Free")
        await page.click("#confirm-button")
        await expect(page.locator(".card-row")).to_have_count(1)
        card = page.locator(".card-row").first
        await expect(card).to_contain_text("100.00 USD")
        await fits(page, errors, "cards")

        # A purchase asks for 3-D Secure: the code appears on the open tab within 3 s.
        async with db.transaction() as session:
            issuer_card_id = await session.scalar(select(Card.issuer_card_id))
        await page.click("#tab-3ds")
        await expect(page.locator("#no-pending")).to_be_visible()
        await page.evaluate("window.__sameDocument = true")
        waiting = await s.stack.simulate(
            "purchase",
            card_id=issuer_card_id,
            amount="12.00",
            currency="USD",
            merchant="Coffee Bar",
            three_ds="wait",
        )
        code = page.locator(".code-value")
        await expect(code).to_be_visible(timeout=3_000)
        await expect(page.locator("#pending")).to_contain_text("Coffee Bar")
        otp = (await code.text_content() or "").strip()
        done = await s.stack.simulate(
            "authenticate", transaction_id=waiting["transaction_id"], otp=otp
        )
        assert done["status"] == "approved", done
        await expect(page.locator("#no-pending")).to_be_visible(timeout=5_000)
        await expect(page.locator("#history")).to_contain_text("Coffee Bar")
        assert await page.evaluate("window.__sameDocument") is True
        await fits(page, errors, "codes")

        # Change plan: the fee and what changes first.
        await page.click("#tab-profile")
        await page.click(f"#offer-{pro.id} a")
        await expect(page.locator("#confirm")).to_contain_text("Pro")
        await page.click("#confirm-button")
        await expect(page.locator("#plan-name")).to_have_text("Pro")
        await fits(page, errors, "profile")

        # Russian, saved: every tab after it too.
        await page.click("#language-ru")
        await expect(page.locator("html")).to_have_attribute("lang", "ru")
        with i18n.language("ru"):
            wallet, cards = i18n.gettext("Wallet"), i18n.gettext("Cards")
        assert wallet != "Wallet"
        await expect(page.locator("#tab-main")).to_have_text(wallet)
        await page.click("#tab-card")
        await expect(page.locator("#tab-card")).to_have_text(cards)
        await expect(page.locator("html")).to_have_attribute("lang", "ru")
        await fits(page, errors, "Russian")
