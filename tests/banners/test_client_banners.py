"""The client side of partner ads: the public list, the counted click, the cached image."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import httpx
import pytest
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import Banner
from tests.banners.conftest import CLIENT_URL, TARGET, URL, create
from tests.banners.images import jpeg, webp_vp8x

BASE = "http://127.0.0.1:8000"  # PUBLIC_BASE_URL: URLs handed to the app are absolute


async def test_list_shows_active_banners_without_sign_in(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    main = await create(admin_client, page="main")
    await create(admin_client, page="main", active=False)
    card = await create(admin_client, webp_vp8x(), page="card", target_url="http://b.example/")
    paused = await create(admin_client, page="tx")
    await admin_client.put(f"{URL}/{paused['id']}", data={"active": "false"})

    response = await client.get(CLIENT_URL, params={"page": "main"})
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": main["id"],
                "page": "main",
                "image_url": main["image_url"],
                "target_url": TARGET,
                "click_url": f"{BASE}{CLIENT_URL}/{main['id']}/click",
            }
        ]
    }
    everything = (await client.get(CLIENT_URL)).json()["data"]
    assert [b["id"] for b in everything] == [card["id"], main["id"]]  # newest first
    assert (await client.get(CLIENT_URL, params={"page": "tx"})).json() == {"data": []}
    bad = await client.get(CLIENT_URL, params={"page": "settings"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_QUERY")


async def test_click_counts_and_redirects_to_the_stored_target(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    banner = await create(admin_client)
    click_url = f"{CLIENT_URL}/{banner['id']}/click"
    # Whatever the query says, the redirect goes to the stored target alone.
    response = await client.get(
        click_url, params={"url": "https://evil.example/", "target_url": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.headers["location"] == TARGET
    assert response.headers["cache-control"] == "no-store"

    clicks = await asyncio.gather(*(client.get(click_url) for _ in range(20)))
    assert [r.status_code for r in clicks] == [302] * 20
    listed = (await admin_client.get(URL)).json()["data"]
    assert listed[0]["clicks"] == 21
    assert listed[0]["updated_at"] == banner["updated_at"]  # a click is not an edit
    async with db.transaction() as session:
        assert await session.scalar(select(Banner.clicks)) == 21


async def test_click_on_inactive_or_unknown_banner_is_404(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    banner = await create(admin_client, active=False)
    for banner_id in (banner["id"], str(uuid.uuid4())):
        response = await client.get(f"{CLIENT_URL}/{banner_id}/click")
        assert response.status_code == 404
        assert response.json() == {"error": "Banner not found", "code": "NOT_FOUND"}
    assert (await client.get(f"{CLIENT_URL}/not-a-uuid/click")).status_code == 404
    assert (await admin_client.get(URL)).json()["data"][0]["clicks"] == 0


async def test_image_is_served_with_long_cache_and_etag(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    data = jpeg(1200, 375)
    banner = await create(admin_client, data, active=False)  # the console previews it too
    sha = hashlib.sha256(data).hexdigest()

    response = await client.get(banner["image_url"])
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{sha}"'
    assert response.headers["x-content-type-options"] == "nosniff"

    cached = await client.get(banner["image_url"], headers={"If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == f'"{sha}"'
    weak_list = await client.get(
        banner["image_url"], headers={"If-None-Match": f'"other", W/"{sha}"'}
    )
    assert weak_list.status_code == 304
    stale_tag = await client.get(banner["image_url"], headers={"If-None-Match": '"other"'})
    assert (stale_tag.status_code, stale_tag.content) == (200, data)


async def test_replaced_image_gets_a_new_url(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    banner = await create(admin_client, jpeg())
    new_image = webp_vp8x()
    replaced = await admin_client.put(
        f"{URL}/{banner['id']}", files={"image": ("b.webp", new_image, "image/webp")}
    )
    new_url = replaced.json()["image_url"]
    assert new_url != banner["image_url"]
    fresh = await client.get(new_url)
    assert (fresh.content, fresh.headers["content-type"]) == (new_image, "image/webp")
    assert "immutable" in fresh.headers["cache-control"]
    # The old URL now answers the current image, revalidated each time rather than cached.
    old = await client.get(banner["image_url"])
    assert old.content == new_image
    assert old.headers["cache-control"] == "public, no-cache"
    bare = await client.get(f"{CLIENT_URL}/{banner['id']}/image")
    assert bare.headers["cache-control"] == "public, no-cache"
    assert bare.headers["etag"] == f'"{hashlib.sha256(new_image).hexdigest()}"'


@pytest.mark.parametrize("suffix", ["image", "image?v=0123456789abcdef", "click"])
async def test_unknown_banner_is_404(client: httpx.AsyncClient, suffix: str) -> None:
    response = await client.get(f"{CLIENT_URL}/{uuid.uuid4()}/{suffix}")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_deleted_banner_disappears(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    banner = await create(admin_client)
    await admin_client.delete(f"{URL}/{banner['id']}")
    assert (await client.get(CLIENT_URL)).json() == {"data": []}
    assert (await client.get(banner["image_url"])).status_code == 404
    assert (await client.get(f"{CLIENT_URL}/{banner['id']}/click")).status_code == 404
