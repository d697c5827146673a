"""The client app's fixtures: a Telegram client signed in through the session exchange (as the
Mini App's page does), a web user signed in through `/app/login`, and form helpers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from paywarden.config import Settings
from paywarden.models import Client
from tests.clients.test_auth import (
    BOT_TOKEN,
    TELEGRAM_TOKEN,
    sign_init_data,
    tg_fields,
    web_login,
)
from tests.conftest import client_for

SESSION = "/api/botcartd/session"
SESSIONS = ["tg", "web"]  # every page is tried with a Mini App session and a web sign-in
MAX_HTML = 50 * 1024  # issue 17: each page's HTML under 50 KB
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN)


def init_data(user_id: int, **profile: Any) -> str:
    """A Mini App's initData for Telegram user `user_id`, signed with the test bot's token."""
    return sign_init_data(tg_fields(user_id, **profile))


async def telegram_sign_in(http: httpx.AsyncClient, user_id: int, **profile: Any) -> Client:
    """What the entry page's script does: exchange initData for the `client_token` cookie."""
    response = await http.post(
        SESSION, headers={"X-Telegram-Init-Data": init_data(user_id, **profile)}
    )
    assert response.status_code == 200, response.text
    assert http.cookies.get("client_token")
    return response.json()


@pytest.fixture
async def tg(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A Telegram client (`tg_777000111`, English) signed in to the app."""
    async with client_for(app) as http:
        await telegram_sign_in(http, 777000111)
        yield http


@pytest.fixture
async def other_tg(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second Telegram client (`tg_777000222`): for checking one never sees the other."""
    async with client_for(app) as http:
        await telegram_sign_in(http, 777000222, first_name="Bob", username="bob")
        yield http


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A verified web user with its `web_<id>` client, signed in."""
    async with client_for(app) as http:
        await web_login(http, app.state.db, "ann@example.com")
        yield http


@pytest.fixture(params=SESSIONS)
def http(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """The signed-in client: a Telegram Mini App session, then a web sign-in."""
    signed_in: httpx.AsyncClient = request.getfixturevalue(request.param)
    return signed_in


async def client_id_of(http: httpx.AsyncClient) -> uuid.UUID:
    state = await http.get("/api/botcartd/state")
    assert state.status_code == 200, state.text
    return uuid.UUID(state.json()["client"]["id"])


def csrf_in(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def post_form(
    http: httpx.AsyncClient, page: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Open `page`, then post `data` to `action` with the page's CSRF token, as a browser."""
    shown = await http.get(page)
    assert shown.status_code == 200, shown.text
    return await http.post(action, data={"csrf_token": csrf_in(shown.text), **(data or {})})
