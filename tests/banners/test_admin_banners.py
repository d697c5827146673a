"""Admin API for partner ads: uploads judged by their bytes, advice, the size cap, edits, audit."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Banner
from tests.banners.conftest import TARGET, URL, create, upload
from tests.banners.images import PNG_1200x375, jpeg, webp_vp8l, webp_vp8x
from tests.conftest import client_for, start_app
from tests.factories import create_operator, sign_in


async def audit_entries(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list((await session.scalars(query.order_by(AuditEntry.created_at))).all())


async def test_upload_jpeg(admin_client: httpx.AsyncClient, db: Database) -> None:
    data = jpeg(1200, 375)
    response = await upload(admin_client, data, page="card")
    assert response.status_code == 201, response.text
    body = response.json()
    sha = hashlib.sha256(data).hexdigest()
    assert body == {
        "id": body["id"],
        "page": "card",
        "image_url": f"http://127.0.0.1:8000/api/botcartd/banners/{body['id']}/image?v={sha[:16]}",
        "content_type": "image/jpeg",
        "width": 1200,
        "height": 375,
        "size_bytes": len(data),
        "target_url": TARGET,
        "active": True,
        "clicks": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "warnings": [],
    }
    assert body["created_at"].endswith("Z")
    async with db.transaction() as session:
        query = select(Banner.image_sha256, Banner.image).where(Banner.id == uuid.UUID(body["id"]))
        assert tuple((await session.execute(query)).one()) == (sha, data)
    [entry] = await audit_entries(db, "banner.create")
    assert (entry.target_type, entry.target_id) == ("banner", body["id"])
    assert entry.actor == "admin-client@example.com"
    assert entry.details["page"] == "card"
    assert entry.details["image_sha256"] == sha


@pytest.mark.parametrize(
    ("image", "size"),
    [(webp_vp8x(1200, 375), (1200, 375)), (webp_vp8l(1600, 500), (1600, 500))],
)
async def test_upload_webp_judged_by_bytes_not_name(
    admin_client: httpx.AsyncClient, image: bytes, size: tuple[int, int]
) -> None:
    # Named and declared as a PNG: the bytes say WebP, and WebP it is.
    response = await upload(admin_client, image, filename="ad.png", declared="image/png")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/webp"
    assert (body["width"], body["height"]) == size
    assert body["warnings"] == []


@pytest.mark.parametrize(
    ("image", "filename", "declared", "message"),
    [
        (PNG_1200x375, "ad.jpg", "image/jpeg", "Only WebP or JPEG"),  # a PNG in disguise
        (b"not an image at all\n", "ad.webp", "image/webp", "Only WebP or JPEG"),
        (b"", "ad.jpg", "image/jpeg", "Only WebP or JPEG"),
        (jpeg()[:40], "ad.jpg", "image/jpeg", "JPEG header could not be read"),
        (webp_vp8x()[:22], "ad.webp", "image/webp", "WebP header could not be read"),
    ],
)
async def test_other_files_are_refused(
    admin_client: httpx.AsyncClient,
    db: Database,
    image: bytes,
    filename: str,
    declared: str,
    message: str,
) -> None:
    response = await upload(admin_client, image, filename=filename, declared=declared)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_IMAGE"
    assert message in response.json()["error"]
    async with db.transaction() as session:
        assert (await session.scalars(select(Banner))).all() == []
    assert await audit_entries(db, "banner.create") == []


async def test_weight_and_shape_warn_but_save(admin_client: httpx.AsyncClient) -> None:
    heavy = await create(admin_client, jpeg(1200, 375, padding=450 * 1024))
    assert [w["code"] for w in heavy["warnings"]] == ["IMAGE_HEAVY"]
    assert "400 KB" in heavy["warnings"][0]["message"]
    square = await create(admin_client, webp_vp8x(1000, 1000))
    assert [w["code"] for w in square["warnings"]] == ["ASPECT_RATIO"]
    assert "16:5" in square["warnings"][0]["message"]
    near = await create(admin_client, jpeg(1200, 390))  # 3.9% off 16:5: fine
    assert near["warnings"] == []
    both = await create(admin_client, jpeg(800, 800, padding=420 * 1024))
    assert [w["code"] for w in both["warnings"]] == ["IMAGE_HEAVY", "ASPECT_RATIO"]
    listed = (await admin_client.get(URL)).json()["data"]
    assert {b["id"] for b in listed} == {heavy["id"], square["id"], near["id"], both["id"]}


@pytest.fixture
async def capped_admin(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    """An operator on an app that accepts banner images of at most 4 KB."""
    app, lifespan = await start_app(make_settings(banner_max_bytes=4096))
    op = await create_operator(app.state.db, "capped@example.com")
    try:
        async with client_for(app) as client:
            await sign_in(client, op)
            yield client
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_size_cap(capped_admin: httpx.AsyncClient) -> None:
    base = len(jpeg())
    exactly = await upload(capped_admin, jpeg(padding=4096 - base))
    assert exactly.status_code == 201, exactly.text
    # just past the cap (the request itself is within the form's slack)
    over = await upload(capped_admin, jpeg(padding=4097 - base))
    assert over.status_code == 413
    assert over.json() == {
        "error": "The image is larger than the limit of 4096 bytes",
        "code": "IMAGE_TOO_LARGE",
    }
    # far past it (past the image's cap + 64 KB for the form): refused on Content-Length,
    # before the body is read
    huge = await upload(capped_admin, jpeg(padding=200_000))
    assert huge.status_code == 413
    assert huge.json() == {
        "error": "The request body is larger than the limit of 69632 bytes",
        "code": "PAYLOAD_TOO_LARGE",
    }

    # and without a Content-Length (chunked), while streaming
    async def chunks() -> AsyncIterator[bytes]:
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="page"\r\n\r\nmain\r\n'
        yield boundary + b'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        yield b"Content-Type: image/jpeg\r\n\r\n" + jpeg()
        for _ in range(20):
            yield b"\x00" * 8192

    chunked = await capped_admin.post(
        URL, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["code"] == "PAYLOAD_TOO_LARGE"
    listed = (await capped_admin.get(URL)).json()["data"]
    assert [b["id"] for b in listed] == [exactly.json()["id"]]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"page": "home"}, "INVALID_BODY"),
        ({"page": None}, "INVALID_BODY"),
        ({"target_url": None}, "INVALID_BODY"),
        ({"target_url": "ftp://partner.example.com/"}, "INVALID_BODY"),
        ({"target_url": "javascript:alert(1)"}, "INVALID_BODY"),
        ({"target_url": "https://"}, "INVALID_BODY"),
        ({"target_url": "/relative/path"}, "INVALID_BODY"),
        ({"target_url": "https://partner.example.com/a b"}, "INVALID_BODY"),
        ({"target_url": "https://partner.example.com/\r\nSet-Cookie: x=1"}, "INVALID_BODY"),
        ({"target_url": "https://partner.example.com/" + "a" * 2048}, "INVALID_BODY"),
        ({"active": "perhaps"}, "INVALID_BODY"),
    ],
)
async def test_bad_fields_are_refused(
    admin_client: httpx.AsyncClient, fields: dict, code: str
) -> None:
    response = await upload(admin_client, **fields)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_image_is_required_and_must_be_a_file(admin_client: httpx.AsyncClient) -> None:
    form = {"page": "main", "target_url": TARGET}
    missing = await admin_client.post(URL, data=form)
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "Invalid request body: image: field required",
        "code": "INVALID_BODY",
    }
    as_text = await admin_client.post(URL, data={**form, "image": "data:image/jpeg;base64,AA"})
    assert as_text.status_code == 400
    assert "must be a file" in as_text.json()["error"]
    as_json = await admin_client.post(URL, json=form)
    assert as_json.status_code == 400
    assert as_json.json()["code"] == "INVALID_BODY"
    garbled = await admin_client.post(
        URL, content=b"--nope\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert garbled.status_code == 400
    assert garbled.json()["code"] == "INVALID_BODY"


async def test_camel_case_and_inactive(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        URL,
        data={"page": "3ds", "targetUrl": "http://partner.example.com", "active": "false"},
        files={"image": ("ad.jpg", jpeg(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["page"], body["target_url"], body["active"]) == (
        "3ds",
        "http://partner.example.com",
        False,
    )


async def test_list_newest_first_and_filter(admin_client: httpx.AsyncClient) -> None:
    first = await create(admin_client, page="main")
    second = await create(admin_client, page="card", active=False)
    third = await create(admin_client, page="main")
    listed = (await admin_client.get(URL)).json()["data"]
    assert [b["id"] for b in listed] == [third["id"], second["id"], first["id"]]
    assert "warnings" not in listed[0]
    mains = (await admin_client.get(URL, params={"page": "main"})).json()["data"]
    assert [b["id"] for b in mains] == [third["id"], first["id"]]
    cards = (await admin_client.get(URL, params={"page": "card"})).json()["data"]
    assert [(b["id"], b["active"]) for b in cards] == [(second["id"], False)]
    assert (await admin_client.get(URL, params={"page": "tx"})).json() == {"data": []}
    bad = await admin_client.get(URL, params={"page": "home"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_QUERY"


async def test_update_fields_and_replace_image(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    banner = await create(admin_client, jpeg(1200, 375))
    at = f"{URL}/{banner['id']}"
    moved = await admin_client.put(
        at, data={"page": "profile", "targetUrl": "https://other.example.com/", "active": "0"}
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["page"], body["target_url"], body["active"]) == (
        "profile",
        "https://other.example.com/",
        False,
    )
    assert body["image_url"] == banner["image_url"]  # same image, same URL
    assert body["warnings"] == []

    new_image = webp_vp8x(1000, 1000)
    replaced = await admin_client.put(at, files={"image": ("new.webp", new_image, "image/webp")})
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    sha = hashlib.sha256(new_image).hexdigest()
    assert body["image_url"].endswith(f"/image?v={sha[:16]}")
    assert body["image_url"] != banner["image_url"]
    assert (body["content_type"], body["width"], body["height"]) == ("image/webp", 1000, 1000)
    assert body["size_bytes"] == len(new_image)
    assert body["page"] == "profile"  # the rest kept
    assert [w["code"] for w in body["warnings"]] == ["ASPECT_RATIO"]
    again = await admin_client.put(at, data={"active": "true"})  # advice on the stored image
    assert [w["code"] for w in again.json()["warnings"]] == ["ASPECT_RATIO"]
    assert (await admin_client.get(URL)).json()["data"][0] == {
        k: v for k, v in again.json().items() if k != "warnings"
    }

    updates = await audit_entries(db, "banner.update")
    assert [e.target_id for e in updates] == [banner["id"]] * 3
    assert updates[0].details == {
        "page": {"from": "main", "to": "profile"},
        "target_url": {"from": TARGET, "to": "https://other.example.com/"},
        "active": {"from": True, "to": False},
    }
    assert updates[1].details["image_sha256"]["to"] == sha
    assert updates[1].details["size_bytes"] == {
        "from": banner["size_bytes"],
        "to": len(new_image),
    }
    assert updates[2].details == {"active": {"from": False, "to": True}}


async def test_update_refusals(admin_client: httpx.AsyncClient, db: Database) -> None:
    banner = await create(admin_client)
    at = f"{URL}/{banner['id']}"
    empty = await admin_client.put(at, data={})
    assert (empty.status_code, empty.json()["code"]) == (400, "EMPTY_UPDATE")
    png = await admin_client.put(at, files={"image": ("a.png", PNG_1200x375, "image/png")})
    assert (png.status_code, png.json()["code"]) == (400, "INVALID_IMAGE")
    bad_url = await admin_client.put(at, data={"target_url": "mailto:x@example.com"})
    assert (bad_url.status_code, bad_url.json()["code"]) == (400, "INVALID_BODY")
    bad_page = await admin_client.put(at, data={"page": "settings"})
    assert (bad_page.status_code, bad_page.json()["code"]) == (400, "INVALID_BODY")
    unknown = await admin_client.put(f"{URL}/{uuid.uuid4()}", data={"active": "false"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Banner not found", "code": "NOT_FOUND"}
    assert (await admin_client.get(URL)).json()["data"][0] == {
        k: v for k, v in banner.items() if k != "warnings"
    }
    assert await audit_entries(db, "banner.update") == []


async def test_delete(admin_client: httpx.AsyncClient, db: Database) -> None:
    keep = await create(admin_client)
    gone = await create(admin_client, page="tx")
    response = await admin_client.delete(f"{URL}/{gone['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert [b["id"] for b in (await admin_client.get(URL)).json()["data"]] == [keep["id"]]
    again = await admin_client.delete(f"{URL}/{gone['id']}")
    assert again.status_code == 404
    [entry] = await audit_entries(db, "banner.delete")
    assert (entry.target_type, entry.target_id) == ("banner", gone["id"])
    assert entry.details == {"page": "tx", "target_url": TARGET, "clicks": 0}


async def test_signed_out_callers_are_refused_before_the_upload_is_read(
    client: httpx.AsyncClient,
) -> None:
    response = await upload(client)
    assert response.status_code == 401
    assert response.json()["code"] == "ADMIN_UNAUTHORIZED"
    assert (await client.get(URL)).status_code == 401
