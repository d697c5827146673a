"""Body limits (413 PAYLOAD_TOO_LARGE while the body streams in) and duplicate JSON keys (400
INVALID_BODY), through the whole app. The memory test against a real server process is in
test_bodylimit_process.py."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from paywarden.config import Settings
from paywarden.console import routers as console_routers
from paywarden.kit.bodylimit import B2B_UPLOADS, BANNER_UPLOADS, duplicate_key
from paywarden.kit.db import Database
from tests.clients.test_auth import BOT_TOKEN, bot_headers
from tests.clients.test_client_api import create_plan
from tests.factories import create_merchant

LIMIT = 64 * 1024
PAYMENTS = "/api/v1/payments"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        banner_max_bytes=200 * 1024, b2b_upload_max_bytes=512 * 1024, bot_api_token=BOT_TOKEN
    )


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON, padded with trailing whitespace (still valid JSON) to `size` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def too_large(limit: int) -> dict[str, str]:
    return {
        "error": f"The request body is larger than the limit of {limit} bytes",
        "code": "PAYLOAD_TOO_LARGE",
    }


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_json_body_at_the_limit_passes_one_byte_more_is_413(
    client: httpx.AsyncClient, db: Database, chunked: bool
) -> None:
    merchant = await create_merchant(db)
    headers = {**merchant.headers, "Content-Type": "application/json"}

    async def post(external_id: str, size: int) -> httpx.Response:
        body = padded({"external_id": external_id, "amount": "12.5"}, size)
        content = chunks(body) if chunked else body
        return await client.post(PAYMENTS, content=content, headers=headers)

    exactly = await post("at-limit", LIMIT)
    assert exactly.status_code == 201, exactly.text
    over = await post("over-limit", LIMIT + 1)
    assert over.status_code == 413
    assert over.json() == too_large(LIMIT)
    assert over.headers["connection"] == "close"  # the rest of the body is never read
    listed = (await client.get(PAYMENTS, headers=merchant.headers)).json()["data"]
    assert [p["external_id"] for p in listed] == ["at-limit"]


async def test_declared_length_is_refused_before_reading(client: httpx.AsyncClient) -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""  # pragma: no cover

    response = await client.post(
        PAYMENTS,
        content=never(),
        headers={"Content-Length": str(200 * 1024 * 1024), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == too_large(LIMIT)


async def test_every_route_and_body_type_has_the_default_limit(client: httpx.AsyncClient) -> None:
    big = b"x" * (LIMIT + 1)
    for method, path, content_type in [
        ("POST", "/api/v1/admin/merchants", "application/json"),
        ("PATCH", "/api/v1/admin/b2b-profiles/0b8f9c1e-0000-4000-8000-000000000000", None),
        ("POST", "/api/botcartd/clients", "text/plain"),
        ("POST", "/admin/login", "application/x-www-form-urlencoded"),
    ]:
        headers = {"Content-Type": content_type} if content_type else {}
        for content in (big, chunks(big)):
            response = await client.request(method, path, content=content, headers=headers)
            assert response.status_code == 413, (method, path, response.text)
            assert response.json() == too_large(LIMIT)
    # a route that reads no body: refused on its declared length; sent chunked, it is never read
    declared = await client.post("/no/such/route", content=big)
    assert declared.status_code == 413
    octets = {"Content-Type": "application/octet-stream"}
    unread = await client.post("/no/such/route", content=chunks(big), headers=octets)
    assert unread.status_code == 404


async def test_a_console_form_is_cut_while_the_form_parser_reads_it(
    client: httpx.AsyncClient,
) -> None:
    """The console reads its form itself: the limit is met inside the app's form parser, and
    the 413 still goes out (not the parser's error)."""
    form = b"csrf_token=x&email=a%40example.com&password=" + b"p" * LIMIT
    response = await client.post(
        "/admin/login",
        content=chunks(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.json() == too_large(LIMIT)
    # a form under the limit reaches the page (which refuses the missing CSRF cookie itself)
    small = await client.post("/admin/login", data={"email": "a@example.com", "password": "p"})
    assert small.status_code != 413


async def test_uploads_have_their_own_limits(client: httpx.AsyncClient) -> None:
    """Past 64 KB, banner and B2B uploads still reach their endpoint (which asks for sign-in);
    past their own limit they are 413 before anyone is asked who they are."""
    banner_limit = 200 * 1024 + 64 * 1024
    banner = "/api/v1/admin/banners"
    multipart = {"Content-Type": "multipart/form-data; boundary=xyz"}
    json_type = {"Content-Type": "application/json"}
    some_id = "0b8f9c1e-0000-4000-8000-000000000000"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # The API asks for sign-in (401); the console sends to its sign-in page (303).
    cases = [
        ("POST", banner, multipart, banner_limit, 401),
        ("PUT", f"{banner}/{some_id}", multipart, banner_limit, 401),
        ("POST", "/api/v1/admin/b2b-profiles", json_type, 512 * 1024, 401),
        ("POST", "/admin/banners", multipart, banner_limit, 303),
        ("POST", f"/admin/banners/{some_id}/edit", multipart, banner_limit, 303),
        ("POST", "/admin/b2b/upload", form, 512 * 1024, 303),
    ]
    for method, path, headers, limit, asked in cases:
        for size, status in [(LIMIT + 1, asked), (limit, asked), (limit + 1, 413)]:
            body = b"[" + b" " * (size - 2) + b"]"
            response = await client.request(method, path, content=body, headers=headers)
            assert response.status_code == status, (method, path, size, response.text)
            if status == 413:
                assert response.json() == too_large(limit)
    # Chunked, a JSON body is read (and cut) before the endpoint runs; a multipart one is read
    # only by an operator's request, and cut there (tests/banners: test_size_cap).
    body = b"[" + b" " * (512 * 1024) + b"]"
    cut = await client.post("/api/v1/admin/b2b-profiles", content=chunks(body), headers=json_type)
    assert cut.status_code == 413
    assert cut.json() == too_large(512 * 1024)


def test_upload_rules_name_routes_of_the_app(app: FastAPI) -> None:
    api = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    console = [  # a router's routes carry its prefix
        (method, route.path)
        for router in console_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ]
    routes = [(m, re.sub(r"\{[^}]+\}", "x", p)) for m, p in api + console]
    for method, pattern in BANNER_UPLOADS + B2B_UPLOADS:
        assert any(m == method and re.fullmatch(pattern, p) for m, p in routes), (method, pattern)


# ---- duplicate keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a": {"b": 1, "c": {"d": 1, "d": 1}}}', "d"),
        (b'[{"x": 1}, {"y": 1, "y": 1}]', "y"),
        (b'{"a": 1, "b": {"a": 2}}', None),  # one key per object: fine
        (b'{"\\u0061": 1, "a": 2}', "a"),  # the same key spelled two ways
        (b'{"a": ', None),  # not JSON: FastAPI answers for it
        (b"\xff\xfe", None),
    ],
)
def test_duplicate_key(body: bytes, key: str | None) -> None:
    assert duplicate_key(body) == key


async def test_duplicate_keys_refused_on_the_merchant_api(
    client: httpx.AsyncClient, db: Database
) -> None:
    merchant = await create_merchant(db)
    headers = {**merchant.headers, "Content-Type": "application/json"}
    top = await client.post(
        PAYMENTS,
        content=b'{"external_id": "o-1", "amount": "1", "amount": "1000"}',
        headers=headers,
    )
    assert top.status_code == 400
    assert top.json() == {
        "error": "Invalid request body: duplicate key 'amount'",
        "code": "INVALID_BODY",
    }
    nested = await client.post(
        PAYMENTS,
        content=b'{"external_id": "o-2", "amount": "1", "metadata": {"k": 1, "k": 2}}',
        headers=headers,
    )
    assert nested.status_code == 400
    assert nested.json()["code"] == "INVALID_BODY"
    # no Content-Type at all: FastAPI reads the body as JSON, so it is checked too
    bare = await client.post(
        PAYMENTS,
        content=b'{"external_id": "o-3", "external_id": "o-4", "amount": "1"}',
        headers=merchant.headers,
    )
    assert bare.status_code == 400
    assert bare.json()["code"] == "INVALID_BODY"
    fine = await client.post(
        PAYMENTS,
        content=b'{"external_id": "o-5", "amount": "1", "metadata": {"k": 1, "n": {"k": 2}}}',
        headers=headers,
    )
    assert fine.status_code == 201, fine.text
    listed = (await client.get(PAYMENTS, headers=merchant.headers)).json()["data"]
    assert [p["external_id"] for p in listed] == ["o-5"]
    # malformed JSON keeps FastAPI's own answer
    broken = await client.post(PAYMENTS, content=b'{"amount": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["code"] == "INVALID_BODY"
    assert "duplicate" not in broken.json()["error"]


async def test_duplicate_keys_refused_on_an_admin_route(admin_client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    body = b'{"name": "Shop A", "name": "Shop B", "webhook_secret": "whsec-0123456789abcdef"}'
    response = await admin_client.post("/api/v1/admin/merchants", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid request body: duplicate key 'name'",
        "code": "INVALID_BODY",
    }
    listed = (await admin_client.get("/api/v1/admin/merchants")).json()["data"]
    assert listed == []


async def test_duplicate_keys_refused_on_the_client_api(
    client: httpx.AsyncClient, db: Database
) -> None:
    await create_plan(db, "Basic", is_default=True)
    headers = {**bot_headers(), "Content-Type": "application/json"}
    twice = b'{"externalUserId": "tg_1", "displayName": "Ann", "displayName": "Bob"}'
    response = await client.post("/api/botcartd/clients", content=twice, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_BODY"
    once = b'{"externalUserId": "tg_1", "displayName": "Ann"}'
    response = await client.post("/api/botcartd/clients", content=once, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Ann"
