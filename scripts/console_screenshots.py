"""Render every admin console page to PNG in docs/screenshots/ (1440 px wide, and 390 px).

    .venv/bin/python scripts/console_screenshots.py [--out docs/screenshots]

Runs the app on a throwaway SQLite database with a little made-up data (merchants, orders, an
incident), serves it on a free port of 127.0.0.1, signs in through the real 2FA enrollment, and
has Debian's Chromium (`make browser`) take a full-page screenshot of each page.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
import uvicorn
from playwright.async_api import Page, async_playwright
from sqlalchemy.pool import NullPool

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.kit.db import make_engine
from paywarden.kit.migrations import upgrade
from paywarden.kit.money import parse_usdt
from paywarden.kit.time import utcnow
from paywarden.models import Incident, Order
from paywarden.orders import repository as orders_repo

CHROMIUM = "/usr/bin/chromium"
EMAIL, PASSWORD = "ops@example.com", "a long demo passphrase"
WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


async def _data(base: str, app: object, api_key: str) -> tuple[str, str]:
    """A week of the demo merchant's orders, most of them paid, one whose webhook failed, and its
    incident; the dashboard's rollup rebuilt from them."""
    db = app.state.db  # type: ignore[attr-defined]
    amounts = ["120", "80.5", "310", "45", "250", "3820.5", "99", "15"]
    ids = []
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": api_key}) as api:
        for i, amount in enumerate(amounts):
            made = await api.post(
                "/api/v1/payments", json={"external_id": f"demo-{i + 1}", "amount": amount}
            )
            made.raise_for_status()
            ids.append(made.json()["id"])
    now = utcnow()
    async with db.transaction() as s:
        for i, (order_id, amount) in enumerate(zip(ids, amounts, strict=True)):
            order = await s.get(Order, uuid.UUID(order_id))
            assert order is not None
            created = now - timedelta(days=max(0, 5 - i), minutes=5)
            order.created_at, order.created_day = created, created.date()
            if i < len(ids) - 2:  # the last two stay open
                order.status = "completed"
                order.amount_received = parse_usdt(amount)
        failed = await s.get(Order, uuid.UUID(ids[4]))
        assert failed is not None
        failed.status = "callback_failed"
        s.add(
            Incident(
                event_type="webhook_failed",
                payload={"reason": "HTTP 500", "attempt": 10},
                order_id=failed.id,
                merchant_id=failed.merchant_id,
            )
        )
        await s.flush()
        await orders_repo.rebuild_daily(s)
    return ids[4], ids[5]


async def _shoot(page: Page, out: Path, name: str) -> None:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(out / f"{name}.png")


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/screens.db"
        engine = make_engine(url, poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="development",
            database_url=url,
            secret_key="screenshots-" + "x" * 32,
            var_dir=Path(tmp) / "var",
            admin_email=EMAIL,
            admin_password=PASSWORD,
            demo_data=True,
            devnet_block_seconds=0,
            log_level="WARNING",
        )
        app = create_app(settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.05)
        try:
            api_key = (Path(tmp) / "var" / "demo_api_key").read_text().strip()
            failed, paid = await _data(base, app, api_key)
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
                )
                for suffix, viewport in (("", WIDE), ("-phone", PHONE)):
                    context = await browser.new_context(viewport=viewport)
                    page = await context.new_page()
                    await page.goto(f"{base}/admin/login")
                    await _shoot(page, out, f"login{suffix}")
                    await page.fill("#email", EMAIL)
                    await page.fill("#password", PASSWORD)
                    if not suffix:  # the first sign-in enrolls 2FA
                        await page.click("#sign-in")
                        await page.wait_for_selector("#totp-secret")
                        await _shoot(page, out, "enroll")
                        secret = (await page.locator("#totp-secret").text_content() or "").strip()
                        await page.fill("#enroll_code", pyotp.TOTP(secret).now())
                        await page.click("#enroll")
                        await page.wait_for_selector("#backup-codes")
                        await _shoot(page, out, "backup-codes")
                    else:  # the next step's code: the one just used is spent
                        await page.fill("#totp_code", pyotp.TOTP(secret).at(time.time() + 30))
                        await page.click("#sign-in")
                    pages = {
                        "dashboard": "/admin",
                        "merchants": "/admin/merchants",
                        "merchant-new": "/admin/merchants/new",
                        "orders": "/admin/orders",
                        "order": f"/admin/orders/{failed}",
                        "order-paid": f"/admin/orders/{paid}",
                        "incidents": "/admin/incidents",
                        "wallet": "/admin/wallet",
                        "operators": "/admin/operators",
                        "sessions": "/admin/sessions",
                        "audit-log": "/admin/audit",
                        "password": "/admin/password",
                    }
                    for name, path in pages.items():
                        await page.goto(base + path)
                        await _shoot(page, out, name + suffix)
                    if not suffix:
                        await page.goto(f"{base}/admin/merchants")
                        await page.click("#merchants a")
                        await _shoot(page, out, "merchant")
                        await page.click("#rotate")
                        await _shoot(page, out, "merchant-rotate-confirm")
                    await context.close()
                await browser.close()
        finally:
            server.should_exit = True
            await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    target = parser.parse_args().out
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
