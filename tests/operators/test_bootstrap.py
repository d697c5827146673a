from __future__ import annotations

from collections.abc import Callable

import httpx

from paywarden.config import Settings
from tests.conftest import BOOTSTRAP_TOKEN, client_for, start_app

URL = "/api/v1/admin/auth/bootstrap"
BODY = {"email": "First@Example.com", "password": "a long enough passphrase"}


async def test_bootstrap_creates_the_first_primary_super_admin(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=BODY, headers={"X-Admin-Token": BOOTSTRAP_TOKEN})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "first@example.com"
    assert body["role"] == "super_admin"
    assert body["is_primary"] is True
    assert body["totp_enabled"] is False
    assert body["created_at"].endswith("Z")
    again = await client.post(URL, json=BODY, headers={"X-Admin-Token": BOOTSTRAP_TOKEN})
    assert again.status_code == 409
    assert again.json() == {
        "error": "An operator already exists; sign in instead",
        "code": "ALREADY_BOOTSTRAPPED",
    }


async def test_wrong_or_missing_token_is_refused_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({"X-Admin-Token": "wrong"}, {}):
        response = await client.post(URL, json=BODY, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "ADMIN_BOOTSTRAP_TOKEN_INVALID"
    ok = await client.post(URL, json=BODY, headers={"X-Admin-Token": BOOTSTRAP_TOKEN})
    assert ok.status_code == 201


async def test_bad_body_is_invalid_body(client: httpx.AsyncClient) -> None:
    for body in (
        {"email": "not-an-email", "password": "long enough password"},
        {"email": "a@example.com", "password": "short"},
        {},
    ):
        response = await client.post(URL, json=body, headers={"X-Admin-Token": BOOTSTRAP_TOKEN})
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_BODY"
    broken = await client.post(
        URL,
        content=b"{nope",
        headers={"X-Admin-Token": BOOTSTRAP_TOKEN, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "INVALID_BODY"


async def test_without_a_configured_token_the_endpoint_is_not_found(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(admin_bootstrap_token=None, env="production"))
    try:
        async with client_for(app) as client:
            response = await client.post(URL, json=BODY, headers={"X-Admin-Token": "anything"})
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_with_admin_email_set_the_bootstrapped_operator_is_not_primary(
    make_settings: Callable[..., Settings],
) -> None:
    # ADMIN_EMAIL without a password names the primary but creates nobody, so bootstrap is open.
    app, lifespan = await start_app(make_settings(admin_email="boss@example.com"))
    try:
        async with client_for(app) as client:
            response = await client.post(URL, json=BODY, headers={"X-Admin-Token": BOOTSTRAP_TOKEN})
        assert response.status_code == 201
        assert response.json()["is_primary"] is False
    finally:
        await lifespan.__aexit__(None, None, None)
