"""What the client app's browser tests share: the app served over real HTTP with the sandbox
issuer mounted and its scanner pointed at a devnet served beside it, and a phone (390 px) that
opens the Mini App as Telegram does, with the launch data in the URL fragment."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page

from paywarden.chain import tasks
from paywarden.config import Settings
from tests.clientapp.conftest import init_data
from tests.clients.test_auth import TELEGRAM_TOKEN
from tests.e2e.conftest import PHONE
from tests.issuer.stack import IssuerStack, running_stack
from tests.tron.conftest import Devnet

# Telegram's dark theme, as a client's app sends it in tgWebAppThemeParams.
DARK_THEME = {
    "bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#232e3c",
}


@dataclass
class ClientAppStack:
    stack: IssuerStack
    devnet: Devnet

    @property
    def url(self) -> str:
        return self.stack.url

    async def pay_and_confirm(self, address: str, micro_usdt: int) -> None:
        """Pay `address` on the devnet, mine past finality, and run the gateway's own scanner
        until the order is final, as the worker's loop would."""
        response = await self.devnet.control.post(
            "/pay", json={"to": address, "amount": micro_usdt}
        )
        assert response.status_code == 200, response.text
        gateway = self.stack.app.state.gateway
        for _ in range(3):
            await self.devnet.mine(2)
            await tasks.scan_pass(self.stack.db, self.devnet.client, gateway.scanner, gateway)


@contextlib.asynccontextmanager
async def client_app_stack(
    make_settings: Callable[..., Settings], devnet: Devnet
) -> AsyncIterator[ClientAppStack]:
    async with running_stack(
        make_settings,
        telegram_bot_token=TELEGRAM_TOKEN,
        trongrid_url=devnet.url,
        scan_start_block=0,
    ) as stack:
        yield ClientAppStack(stack, devnet)


def launch_url(
    base_url: str, user_id: int, *, theme: dict[str, str] | None = None, **profile: object
) -> str:
    """`/app/` as Telegram opens a Mini App: the launch data in the fragment."""
    params = {
        "tgWebAppData": init_data(user_id, **profile),
        "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": "ios",
        "tgWebAppThemeParams": json.dumps(theme or DARK_THEME, separators=(",", ":")),
    }
    return f"{base_url}/app/#" + urlencode(params, quote_via=quote)


def watch_errors(page: Page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions of the page."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@contextlib.asynccontextmanager
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context
    finally:
        await context.close()


async def fits(page: Page, errors: list[str], step: str) -> None:
    """The page never scrolls sideways on the phone, and nothing went wrong in it so far."""
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    if scroll > PHONE["width"]:
        pytest.fail(f"{step}: the page scrolls sideways ({scroll} px > {PHONE['width']} px)")
    assert errors == [], f"{step}: console errors {errors}"
