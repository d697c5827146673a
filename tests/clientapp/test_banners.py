"""Each tab shows its own active banner (16:5), linked through the counting redirect, and no
other tab's; an inactive banner is shown nowhere."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import Banner
from tests.banners.conftest import create as create_banner

TABS = ("main", "card", "3ds", "tx", "profile")


async def test_every_tab_shows_its_own_banner_through_the_counting_redirect(
    tg: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    made = {tab: await create_banner(admin_client, page=tab) for tab in TABS}
    hidden = await create_banner(admin_client, page="main", active=False)
    for tab in TABS:
        page = await tg.get(f"/app/{tab}")
        assert page.status_code == 200, tab
        html = page.text
        banner = made[tab]
        assert f'href="/api/botcartd/banners/{banner["id"]}/click"' in html, tab
        assert f'src="/api/botcartd/banners/{banner["id"]}/image?v=' in html, tab
        assert 'width="1600" height="500"' in html  # 16:5, reserved before the image loads
        others = [b["id"] for t, b in made.items() if t != tab] + [hidden["id"]]
        assert not [other for other in others if other in html], tab

    click = await tg.get(f"/api/botcartd/banners/{made['card']['id']}/click")
    assert click.status_code == 302
    async with db.transaction() as session:
        clicks = await session.scalar(
            select(Banner.clicks).where(Banner.id == uuid.UUID(made["card"]["id"]))
        )
    assert clicks == 1
