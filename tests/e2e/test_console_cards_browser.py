"""The cards business in the console, in a real browser: Debian's Chromium driven by Playwright
over real HTTP, against the app with the sandbox issuer mounted (cards are issued and frozen at
the sandbox over HTTP), on a phone (390 px) and a desktop (1440 px).

A super_admin signs in with a TOTP code, finds a client with the quick start's lookup box,
moves it to a hidden plan, issues a card, freezes it, tops up the wallet, bans the client through
the confirm page, then switches the console to Russian. After each step: the visible result, no
sideways scrolling of the page, no console errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from paywarden.config import Settings
from tests.cards.conftest import card_rows, make_holder, make_plan
from tests.e2e.conftest import PHONE, needs_chromium
from tests.factories import create_operator
from tests.issuer.stack import running_stack

DESKTOP = {"width": 1440, "height": 900}
pytestmark = needs_chromium


# The innermost elements reaching past the viewport's right edge (to name the culprit).
_WIDEST = """(width) => {
  const past = (el) => el.getBoundingClientRect().right > width + 0.5;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (past(el) && ![...el.children].some(past)) {
      const id = el.id ? "#" + el.id : "";
      const cls = typeof el.className === "string" && el.className.trim()
        ? "." + el.className.trim().split(/\\s+/).join(".") : "";
      const right = Math.round(el.getBoundingClientRect().right);
      const text = (el.textContent || "").trim().slice(0, 40);
      out.push(`${el.tagName.toLowerCase()}${id}${cls} (right ${right} px: ${text})`);
    }
  }
  return out.slice(0, 5);
}"""


def _watch_errors(page: Page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions of the page."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def _fits(page: Page, width: int, errors: list[str], step: str) -> None:
    """The page never scrolls sideways, and nothing went wrong in it so far."""
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wide = await page.evaluate(_WIDEST, width)
        pytest.fail(f"{step}: the page scrolls sideways ({scroll} px > {width} px): {wide}")
    assert errors == [], f"{step}: console errors {errors}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone-390", "desktop-1440"])
async def test_operator_runs_a_client_from_lookup_to_ban_then_reads_the_menu_in_russian(
    browser: Browser, make_settings: Callable[..., Settings], viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    async with running_stack(make_settings) as stack:
        db = stack.db
        boss = await create_operator(db, "cards-boss@example.com", role="super_admin")
        hidden = await make_plan(db, "Gold private", hidden_from_home=True, card_issue_fee=0)
        holder = await make_holder(db, eur=20_000)  # 200.00 EUR, on a free visible plan

        phone = width == PHONE["width"]
        context = await browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
            locale="en-US",
        )
        try:
            page = await context.new_page()
            errors = _watch_errors(page)

            # Sign in (password and TOTP), landing on the quick start.
            await page.goto(f"{stack.url}/admin")
            await expect(page.locator("h1")).to_have_text("Sign in")
            await page.fill("#email", boss.email)
            await page.fill("#password", boss.password)
            await page.fill("#totp_code", boss.code())
            await page.click("#sign-in")
            await expect(page.locator("h1")).to_have_text("Admin quick start")
            await _fits(page, width, errors, "quick start")

            # The quick start's lookup box finds the client by its external user id.
            await page.fill("#lookup-id", holder.external_user_id)
            await page.press("#lookup-id", "Enter")
            await expect(page.locator("h1")).to_have_text("Lookup by ID")
            match = page.locator("#matches .match", has_text=holder.external_user_id)
            await expect(match).to_have_count(1)
            await _fits(page, width, errors, "lookup")
            await match.get_by_role("link", name="Open client").click()
            await expect(page).to_have_url(re.compile(rf"/admin/clients/{holder.id}$"))
            await expect(page.locator("#client h2")).to_have_text("Client")
            await expect(page.locator("#client-status")).to_have_text("active")
            await _fits(page, width, errors, "client page")

            # The tariff: a hidden-from-home plan is offered, and assigned.
            await page.select_option("#plan-select", str(hidden.id))
            await page.fill("#plan-notes", "moved by the browser test")
            await page.click("#save-plan")
            await expect(page.locator("#notice")).to_have_text(
                "The tariff is saved. The client sees the plan and its pricing in the app."
            )
            await expect(page.locator("#current-plan")).to_contain_text("Gold private")
            await expect(page.locator("#current-plan .badge")).to_have_text("hidden")
            await _fits(page, width, errors, "tariff changed")

            # A card, issued at the sandbox issuer.
            await page.select_option("#issue-currency", "EUR")
            await page.fill("#issue-limit", "250")
            await page.fill("#issue-label", "browser card")
            await page.click("#issue-card")
            await expect(page.locator("#notice")).to_have_text("The card is issued.")
            cards = page.locator("#card-list tbody tr")
            await expect(cards).to_have_count(1)
            await expect(cards.first.locator(".card-status")).to_have_text("active")
            await expect(cards.first).to_contain_text("browser card")
            await _fits(page, width, errors, "card issued")

            # Frozen.
            await cards.first.locator("button.freeze").click()
            await expect(page.locator("#notice")).to_have_text("The card is frozen.")
            await expect(cards.first.locator(".card-status")).to_have_text("frozen")
            await expect(cards.first.locator("button.unfreeze")).to_be_visible()
            await _fits(page, width, errors, "card frozen")
            [card] = await card_rows(db, holder.id)
            assert card.status == "frozen"
            assert stack.sandbox.cards[card.issuer_card_id].status == "FROZEN"

            # The wallet, topped up by 25.00 EUR.
            await expect(page.locator("#balance-EUR")).to_contain_text("200.00")
            await page.select_option("#topup-currency", "EUR")
            await page.fill("#topup-amount", "25")
            await page.fill("#topup-note", "goodwill, ticket 42")
            await page.click("#topup-submit")
            await expect(page.locator("#notice")).to_have_text("The wallet is topped up.")
            await expect(page.locator("#balance-EUR")).to_contain_text("225.00")
            await _fits(page, width, errors, "wallet topped up")

            # Banned, through the confirm page.
            await page.click("#ban")
            await expect(page.locator("h1")).to_have_text("Ban this client?")
            await _fits(page, width, errors, "ban confirm page")
            await page.click("#confirm")
            await expect(page.locator("#client-status")).to_have_text("banned")
            await expect(page.locator("#notice")).to_have_text(
                "The client is banned: it can read its account but change nothing."
            )
            await expect(page.locator("#banned")).to_have_text("yes")
            await _fits(page, width, errors, "client banned")

            # Russian: the switch in the header; the menu (and the page) speak Russian.
            switch = page.locator("#language-switch #lang-ru")
            if await switch.count() == 0:
                pytest.skip("the console's language switch (#language-switch) is not there yet")
            await switch.click()
            await expect(page.locator("html")).to_have_attribute("lang", "ru")
            menu = page.locator("nav.side")
            await expect(menu).to_contain_text("Клиенты")
            await expect(menu).to_contain_text("Карты")
            await expect(menu).to_contain_text("Администрирование")
            await expect(menu).not_to_contain_text("Clients")
            await expect(page.locator("#client-status")).to_have_text("заблокирован")
            await _fits(page, width, errors, "in Russian")
        finally:
            await context.close()
