"""Signing in to the client app: the Mini App's session exchange, web sign-in, the mailed link,
sign-out, and what an unsigned visitor sees."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.clientapp.conftest import SESSION, init_data, post_form, telegram_sign_in
from tests.conftest import client_for


async def test_init_data_is_exchanged_once_for_a_cookie(app: FastAPI) -> None:
    async with client_for(app) as http:
        response = await http.post(SESSION, headers={"X-Telegram-Init-Data": init_data(42)})
        assert response.status_code == 200
        assert response.json()["external_user_id"] == "tg_42"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/" in cookie
        page = await http.get("/app/main")  # the cookie alone from here on
        assert page.status_code == 200
        assert 'id="balances"' in page.text


async def test_session_needs_init_data(client: httpx.AsyncClient) -> None:
    response = await client.post(SESSION)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    bad = await client.post(SESSION, headers={"X-Telegram-Init-Data": "user=1&hash=00"})
    assert (bad.status_code, bad.json()["code"]) == (401, "INIT_DATA_INVALID")


async def test_unsigned_visitor_is_sent_to_the_entry(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/main")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/?next=/app/main"
    entry = await client.get("/app/?next=/app/main")
    assert entry.status_code == 200
    assert 'id="entry"' in entry.text
    assert 'data-next="/app/main"' in entry.text


async def test_logout_revokes_the_mini_app_session(app: FastAPI) -> None:
    async with client_for(app) as http:
        await telegram_sign_in(http, 43)
        token = http.cookies["client_token"]
        out = await post_form(http, "/app/logout", "/app/logout")
        assert out.status_code == 303
        http.cookies.set("client_token", token)  # a copy kept elsewhere is dead too
        assert (await http.get("/app/main")).status_code == 303
        api = await http.get("/api/botcartd/state")
        assert api.status_code == 401
