from __future__ import annotations

from typing import Any

import httpx

from tests.banners.images import jpeg

URL = "/api/v1/admin/banners"
CLIENT_URL = "/api/botcartd/banners"
TARGET = "https://partner.example.com/offer?utm=paywarden"


async def upload(
    admin: httpx.AsyncClient,
    image: bytes | None = None,
    *,
    filename: str = "ad.jpg",
    declared: str = "image/jpeg",
    **fields: Any,
) -> httpx.Response:
    """POST the multipart form; `fields` override page/target_url (None leaves one out)."""
    form = {"page": "main", "target_url": TARGET, **fields}
    data = {
        k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items() if v is not None
    }
    files = {"image": (filename, jpeg() if image is None else image, declared)}
    return await admin.post(URL, data=data, files=files)


async def create(admin: httpx.AsyncClient, image: bytes | None = None, **fields: Any) -> dict:
    response = await upload(admin, image, **fields)
    assert response.status_code == 201, response.text
    return response.json()
