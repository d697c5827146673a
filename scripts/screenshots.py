"""Screenshots of every console page, on a phone (390 px) and a desktop (1440 px), into
docs/screenshots/<page>-<width>.png, and of every tab of the client app as a Telegram Mini App
on a phone (docs/screenshots/app-<tab>-390.png, Telegram's dark theme for `-dark`).

Starts a real `paywarden serve` on a free port with a fresh SQLite database in a temporary
directory (demo data on: a merchant, two plans, a rate), seeds what makes every page show
something (clients on several plans, a hidden plan, wallets topped up, cards issued at the
embedded sandbox issuer and used for purchases and declines, banners, web users, a B2B group,
support texts, orders), signs an operator in with a TOTP code in Debian's Chromium and saves a
full-page PNG of each page at device scale factor 1.

    .venv/bin/python scripts/screenshots.py            # or: make screenshots
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --only clients,client
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
WIDTHS = {390: 844, 1440: 900}  # width: viewport height (full-page shots grow past it)
EMAIL = "ops@example.com"
PASSWORD = "screenshots-operator-passphrase"  # noqa: S105 - a throwaway database
TELEGRAM_TOKEN = "123456:screenshots-telegram-bot-token"  # noqa: S105 - a throwaway bot
APP_TABS = ("main", "card", "3ds", "tx", "profile")
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BANNER_HTML = """<body style="margin:0;width:1200px;height:375px;font:700 64px sans-serif;
color:#fff;display:flex;align-items:center;justify-content:center;
background:linear-gradient(120deg,#1d4ed8,#9333ea)">%s</body>"""


async def banner_jpeg(browser: Browser, text: str) -> bytes:
    """A real JPEG of the recommended banner size (1200 x 375), drawn by Chromium itself."""
    page = await browser.new_page(viewport={"width": 1200, "height": 375}, device_scale_factor=1)
    try:
        await page.set_content(BANNER_HTML % text)
        return await page.screenshot(type="jpeg", quality=80)
    finally:
        await page.close()


# The app, as an operator would run it


async def run(*args: str, env: dict[str, str], cwd: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "paywarden"),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"paywarden {' '.join(args)} failed:\n{out.decode()[-4000:]}")


@asynccontextmanager
async def served(work: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A migrated database, an operator, and `paywarden serve` answering on a free port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    env.update(
        ENV="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{work / 'paywarden.db'}",
        VAR_DIR=str(work / "var"),
        PUBLIC_BASE_URL=base,
        DEMO_DATA="true",
        LOG_LEVEL="WARNING",
        METRICS_PORT="0",
        SANDBOX_SETTLE_SECONDS="0",
        PAYWARDEN_OPERATOR_PASSWORD=PASSWORD,
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
    )
    await run("migrate", env=env, cwd=work)
    await run("operator", "create", "--email", EMAIL, "--role", "super_admin", env=env, cwd=work)
    log = (work / "serve.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        str(BIN / "paywarden"),
        "serve",
        "--port",
        str(port),
        cwd=work,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                if server.returncode is not None:
                    raise SystemExit((work / "serve.log").read_text()[-4000:])
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(
                    "paywarden serve did not start:\n" + (work / "serve.log").read_text()
                )
        yield base, env
    finally:
        if server.returncode is None:
            server.terminate()
            await server.wait()
        log.close()


# Data: through the services (the same database file) and through the console's own forms


async def seed_services(env: dict[str, str], images: list[bytes]) -> dict[str, Any]:
    """Clients on plans (one hidden), wallets, web users, banners, a B2B group, support texts."""
    from sqlalchemy import select

    from paywarden.audit.context import CLI
    from paywarden.b2b import invites
    from paywarden.banners import service as banners
    from paywarden.clients import service as clients
    from paywarden.config import Settings
    from paywarden.context import database
    from paywarden.models import Plan, WebUser
    from paywarden.plans import service as plans
    from paywarden.subscriptions import service as subscriptions
    from paywarden.wallets import service as wallets

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=env["DATABASE_URL"],
        var_dir=Path(env["VAR_DIR"]),
    )
    db = database(settings)
    made: dict[str, Any] = {"clients": [], "env": env}
    try:
        async with db.transaction() as session:
            await plans.create(
                session,
                {
                    "name": "VIP (private)",
                    "bullets": "10 cards included\nNo top-up fee\nPersonal manager",
                    "monthly_fee": 4900,
                    "cards_included": 10,
                    "max_active_cards": 50,
                    "card_issue_fee": 0,
                    "topup_fee_bps": 0,
                    "fx_fee_bps": 50,
                    "hidden_from_home": True,
                    "sort_order": 30,
                    "is_default": False,
                    "archived": False,
                },
                CLI,
            )
            listed = list(await session.scalars(select(Plan).order_by(Plan.sort_order)))
            people = [
                ("tg_700100", "anna_k", "Anna K.", 0),
                ("tg_700200", "boris", "Boris Petrov", 1),
                ("tg_700300", "chen_w", "Chen Wei", 0),
                ("web_5f2c9a01", None, None, 2),
                ("tg_700400", "dmitry", "Dmitry S.", 0),
                ("tg_700500", "eva", "Eva Lindqvist", 1),
            ]
            for external, username, name, plan_index in people:
                client = await clients.upsert_client(session, external)
                client.username = username
                client.display_name = name
                client.plan_id = listed[plan_index].id  # Start, Pro, VIP (private)
                for currency, amount in (("EUR", 150_000), ("USD", 40_000)):
                    key = f"seed:{external}:{currency}"
                    account = await wallets.wallet(session, client.id, currency)
                    source = await wallets.system_account(
                        session, "usdt_received", currency, spread_key=key
                    )
                    await wallets.post(
                        session,
                        "topup",
                        key,
                        [
                            wallets.Leg(account, currency, amount),
                            wallets.Leg(source, currency, -amount),
                        ],
                    )
                await subscriptions.ensure(session, client)  # the plan's fee, from the wallet
                made["clients"].append((client.id, external))
            for i, (client_id, external) in enumerate(made["clients"][:4]):
                session.add(
                    WebUser(
                        email=f"user{i + 1}@example.com",
                        password_hash="x",  # noqa: S106 - never signs in
                        client_id=client_id if i % 2 == 0 else None,
                        external_user_id=None if i % 2 == 0 else external,
                    )
                )
            for image, (page, target, active) in zip(
                images,
                (
                    ("main", "https://example.com/promo/spring", True),
                    ("card", "https://example.com/cards/metal", True),
                    ("tx", "https://example.com/cashback", False),
                ),
                strict=True,
            ):
                await banners.create(
                    session, page=page, target_url=target, active=active, image=image, actor=CLI
                )
            group = await invites.create_group(session, "Agency partners", CLI)
            made["group"] = str(group.id)
    finally:
        await db.dispose()
    return made


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise SystemExit("no CSRF token in the page")
    return match.group(1)


async def post_form(
    context: BrowserContext,
    base: str,
    page: str,
    action: str,
    *,
    multipart: bool = False,
    **data: str,
) -> None:
    """Post a console form as the signed-in browser does: the page's CSRF token, its cookies."""
    html = await (await context.request.get(base + page)).text()
    fields = {"csrf_token": csrf_in(html), **data}
    if multipart:
        answer = await context.request.post(base + action, multipart=fields, max_redirects=0)
    else:
        answer = await context.request.post(base + action, form=fields, max_redirects=0)
    if answer.status >= 400:
        raise SystemExit(f"POST {action} answered {answer.status}: {(await answer.text())[:500]}")
    if "error=" in (answer.headers.get("location") or ""):
        print(f"  POST {action} refused: {answer.headers['location']}", file=sys.stderr)
    if answer.status == 200:  # a page again: the form with what went wrong, or a report
        said = re.findall(r'role="alert"[^>]*>([^<]*)<', await answer.text())
        if said:
            print(f"  POST {action} says: {said}", file=sys.stderr)


async def seed_console(context: BrowserContext, base: str, made: dict[str, Any]) -> list[str]:
    """Cards issued and frozen, a top-up, a ban, support texts: through the console's forms."""
    cards: list[str] = []
    for n, (client_id, _) in enumerate(made["clients"][:4]):
        page = f"/admin/clients/{client_id}"
        for currency, limit in (("EUR", "500"), ("USD", "250")):
            await post_form(
                context,
                base,
                page,
                page + "/cards",
                currency=currency,
                monthly_limit=limit,
                label=f"{currency} card {n + 1}",
            )
        await post_form(
            context, base, page, page + "/topup", currency="EUR", amount="25", note="goodwill"
        )
    await post_form(
        context,
        base,
        "/admin/support",
        "/admin/support",
        contact="@paywarden_support",
        working_hours="Mon-Fri 09:00-21:00 CET, weekends 11:00-17:00",
        average_reply_time="about 15 minutes",
        reply_time_templates="about 5 minutes\nabout 15 minutes\nwithin an hour",
    )
    profiles = [
        {
            "client_id": f"b2b-client-{n}",
            "client_secret": "bad-secret" if n == 6 else f"secret-{n}",
            "external_id": f"acct_b2b-client-{n}",
            "label": f"Agency account {n}",
        }
        for n in range(1, 7)
    ]
    await post_form(
        context,
        base,
        "/admin/b2b",
        "/admin/b2b/upload",
        multipart=True,
        profiles=json.dumps(profiles),
        group_id=made["group"],
    )
    victim = made["clients"][4][0]
    await post_form(context, base, f"/admin/clients/{victim}/ban", f"/admin/clients/{victim}/ban")
    return cards


async def seed_traffic(base: str, env: dict[str, str]) -> None:
    """Purchases at the sandbox (approved, declined, refunded) and payment orders."""
    from sqlalchemy import select

    from paywarden.config import Settings
    from paywarden.context import database
    from paywarden.models import Card

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=env["DATABASE_URL"],
        var_dir=Path(env["VAR_DIR"]),
    )
    db = database(settings)
    try:
        async with db.transaction() as session:
            cards = [(c.issuer_card_id, c.currency) for c in await session.scalars(select(Card))]
    finally:
        await db.dispose()
    print(f"  {len(cards)} cards to buy with", file=sys.stderr)
    shops = [
        ("Amazon EU", "5942"),
        ("Uber", "4121"),
        ("Netflix", "4899"),
        ("Booking.com", "7011"),
        ("Steam", "5816"),
        ("Lidl", "5411"),
    ]
    async with httpx.AsyncClient(base_url=base + "/sandbox-issuer", timeout=20) as sandbox:
        for i, (card_id, currency) in enumerate(cards):
            for j, (shop, mcc) in enumerate(shops[: 3 + i % 3]):
                amount = "9999.00" if (i + j) % 5 == 4 else f"{12 + i * 7 + j * 3}.{j}0"
                answer = await sandbox.post(
                    "/simulate/purchase",
                    json={
                        "card_id": card_id,
                        "amount": amount,
                        "currency": currency,
                        "merchant": shop,
                        "mcc": mcc,
                    },
                )
                if answer.status_code != 200:
                    print(f"  purchase not simulated ({answer.status_code}): {answer.text[:200]}")
                    continue
                tx = answer.json().get("transaction_id") or answer.json().get("id")
                if tx and answer.json().get("status") == "approved":
                    await sandbox.post("/simulate/settle", json={"transaction_id": tx})
    key_file = Path(env["VAR_DIR"]) / "demo_api_key"
    if key_file.exists():
        async with httpx.AsyncClient(base_url=base, timeout=20) as api:
            for n, amount in enumerate(("12.5", "49.99", "150", "7.25", "300")):
                await api.post(
                    "/api/v1/payments",
                    headers={"X-API-Key": key_file.read_text().strip()},
                    json={"external_id": f"shot-{n + 1}", "amount": amount},
                )


# The browser


async def sign_in(page: Page, base: str) -> None:
    """First sign-in: password, then the 2FA set-up (the TOTP secret read off the page)."""
    await page.goto(f"{base}/admin")
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_selector("#totp-secret")
    secret = (await page.locator("#totp-secret").text_content() or "").strip()
    await page.fill("#enroll_code", pyotp.TOTP(secret).now())
    await page.click("#enroll")
    await page.click("#continue")
    await page.wait_for_selector("#lookup-id")


def pages(made: dict[str, Any]) -> dict[str, str]:
    client_id, external = made["clients"][0]
    return {
        "quick-start": "/admin",
        "cards-dashboard": "/admin/cards",
        "clients": "/admin/clients",
        "client": f"/admin/clients/{client_id}",
        "plans": "/admin/plans",
        "banners": "/admin/banners",
        "support": "/admin/support",
        "lookup": f"/admin/lookup?id={external}",
        "card-transactions": "/admin/card-transactions",
        "web-users": "/admin/web-users",
        "issuer-events": "/admin/issuer-events?status=all",
        "b2b": "/admin/b2b",
        "gateway": "/admin/gateway",
        "orders": "/admin/orders",
        "audit": "/admin/audit",
    }


def launch_fragment(external_user_id: str, first_name: str, theme: dict[str, str] | None) -> str:
    """The launch data Telegram puts in a Mini App's URL fragment, signed for the server's bot."""
    from urllib.parse import quote, urlencode

    from paywarden.clients.auth import init_data_hash

    user = {"id": int(external_user_id.removeprefix("tg_")), "first_name": first_name}
    fields = {
        "user": json.dumps({**user, "language_code": "en"}, separators=(",", ":")),
        "auth_date": str(int(time.time())),
    }
    data = urlencode({**fields, "hash": init_data_hash(fields, TELEGRAM_TOKEN)})
    params = {"tgWebAppData": data, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "ios"}
    if theme:
        params["tgWebAppThemeParams"] = json.dumps(theme, separators=(",", ":"))
    return "#" + urlencode(params, quote_via=quote)


async def issuer_card_ids(env: dict[str, str], client_id: Any) -> list[str]:
    from sqlalchemy import select

    from paywarden.config import Settings
    from paywarden.context import database
    from paywarden.models import Card

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=env["DATABASE_URL"],
        var_dir=Path(env["VAR_DIR"]),
    )
    db = database(settings)
    try:
        async with db.transaction() as session:
            rows = await session.scalars(
                select(Card.issuer_card_id).where(
                    Card.client_id == client_id, Card.status == "active"
                )
            )
            return [str(r) for r in rows]
    finally:
        await db.dispose()


DARK_THEME = {
    "bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#232e3c",
}


async def app_shots(
    browser: Browser, base: str, made: dict[str, Any], out: Path, only: set[str] | None
) -> list[Path]:
    """Every tab of the client app, opened as a Mini App by the first seeded client, with a
    3-D Secure code waiting (a sandbox purchase that waits for it)."""
    client_id, external = made["clients"][0]
    saved: list[Path] = []
    async with httpx.AsyncClient(base_url=base + "/sandbox-issuer", timeout=20) as sandbox:
        for card_id in await issuer_card_ids(made["env"], client_id):
            await sandbox.post(
                "/simulate/purchase",
                json={
                    "card_id": card_id,
                    "amount": "23.40",
                    "currency": "EUR",
                    "merchant": "Booking.com",
                    "three_ds": "wait",
                },
            )
            break
    for suffix, theme in (("", None), ("-dark", DARK_THEME)):
        context = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=1,
            locale="en-US",
            timezone_id="UTC",
            is_mobile=True,
            has_touch=True,
        )
        try:
            page = await context.new_page()
            await page.goto(f"{base}/app/" + launch_fragment(external, "Anna", theme))
            await page.wait_for_url(f"{base}/app/main")
            for tab in APP_TABS:
                name = f"app-{tab}{suffix}"
                if (only and name not in only) or (suffix and tab not in ("main", "card")):
                    continue
                answer = await page.goto(f"{base}/app/{tab}", wait_until="networkidle")
                if not answer or answer.status != 200:
                    print(f"  /app/{tab}: HTTP {answer.status if answer else 0}", file=sys.stderr)
                target = out / f"{name}-390.png"
                # The tab bar is fixed to the screen's bottom: a screen as tall as the page
                # shows it there, where a full-page shot would leave it mid-page.
                tall = await page.evaluate("document.documentElement.scrollHeight")
                await page.set_viewport_size({"width": 390, "height": max(844, tall)})
                await page.screenshot(path=str(target))
                await page.set_viewport_size({"width": 390, "height": 844})
                saved.append(target)
                print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
        finally:
            await context.close()
    return saved


async def main(out: Path, only: set[str] | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="paywarden-shots-") as tmp:
        work = Path(tmp)
        async with served(work) as (base, env), async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new", "--disable-gpu"]
            )
            try:
                images = [
                    await banner_jpeg(browser, text)
                    for text in ("Spring promo", "Metal cards", "Cashback 2%")
                ]
                made = await seed_services(env, images)
                context = await browser.new_context(
                    viewport={"width": 1440, "height": 900},
                    device_scale_factor=1,
                    locale="en-US",
                    timezone_id="UTC",
                )
                page = await context.new_page()
                await sign_in(page, base)
                await seed_console(context, base, made)
                await seed_traffic(base, env)
                for width, height in WIDTHS.items():
                    await page.set_viewport_size({"width": width, "height": height})
                    for name, path in pages(made).items():
                        if only and name not in only:
                            continue
                        answer = await page.goto(base + path, wait_until="networkidle")
                        status = answer.status if answer else 0
                        if status != 200:
                            print(f"  {path}: HTTP {status}", file=sys.stderr)
                        target = out / f"{name}-{width}.png"
                        await page.screenshot(path=str(target), full_page=True)
                        saved.append(target)
                        print(
                            f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                        )
                await context.close()
                saved += await app_shots(browser, base, made, out, only)
            finally:
                await browser.close()
    return saved


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", help="comma-separated page names (default: all)")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else None
    asyncio.run(main(args.out, chosen))
