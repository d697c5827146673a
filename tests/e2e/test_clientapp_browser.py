"""The client app in a real browser: Debian's Chromium on a 390 px phone, opened as Telegram
opens a Mini App (the signed launch data in the URL fragment), against the app served over real
HTTP with the sandbox issuer and a devnet.

After each step: the visible result, no sideways scrolling, no console errors (a CSP violation
is one).
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.async_api import Browser, expect

from paywarden.config import Settings
from tests.e2e.clientapp import client_app_stack, fits, launch_url, phone, watch_errors
from tests.e2e.conftest import needs_chromium
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
