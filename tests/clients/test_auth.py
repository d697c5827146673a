"""Who calls the client API: the bot's token, a Mini App's init data, a web user's cookie, and
an operator reading state. Init data is signed here by Telegram's documented algorithm."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from paywarden.clients import service as clients
from paywarden.clients.auth import check_init_data
from paywarden.clients.errors import InitDataExpired, InitDataInvalid
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.security import hash_password
from paywarden.models import Client, WebUser
from tests.conftest import client_for, start_app

BOT_TOKEN = "bot-api-token-for-tests-0123456789"
TELEGRAM_TOKEN = "123456:telegram-bot-token-for-tests"
WEB_PASSWORD = "correct horse battery"
STATE = "/api/botcartd/state"
TRANSACTIONS = "/api/botcartd/transactions"


def sign_init_data(fields: dict[str, str], bot_token: str = TELEGRAM_TOKEN) -> str:
    """initData as Telegram sends it: the fields url-encoded, plus `hash`, computed as
    https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app says."""
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def tg_fields(
    user_id: int = 777000111, *, auth_date: int | None = None, **user: Any
) -> dict[str, str]:
    profile = {"id": user_id, "first_name": "Ann", "last_name": "Lee", "username": "annlee"}
    profile.update({"language_code": "en", **user})
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(profile, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(auth_date if auth_date is not None else int(time.time())),
    }


def tg_headers(user_id: int = 777000111, **kwargs: Any) -> dict[str, str]:
    return {"X-Telegram-Init-Data": sign_init_data(tg_fields(user_id, **kwargs))}


def bot_headers(token: str = BOT_TOKEN) -> dict[str, str]:
    return {"X-Bot-Token": token}


async def make_client(db: Database, external_user_id: str, **profile: Any) -> Client:
    async with db.transaction() as session:
        return await clients.upsert_client(session, external_user_id, **profile)


async def ban(db: Database, client_id: Any) -> None:
    async with db.transaction() as session:
        await session.execute(update(Client).where(Client.id == client_id).values(status="banned"))


async def web_login(
    http: httpx.AsyncClient, db: Database, email: str, *, linked_to: str | None = None
) -> Client:
    """A verified web user with its `web_<id>` client, signed in over HTTP on `http`."""
    async with db.transaction() as session:
        user = WebUser(email=email, password_hash=hash_password(WEB_PASSWORD), status="active")
        session.add(user)
        await session.flush()
        client = await clients.upsert_client(session, f"web_{user.id}")
        user.client_id, user.external_user_id = client.id, linked_to
    response = await http.post(
        "/api/botcartd/web/login", json={"email": email, "password": WEB_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# ---- init data, by the function -------------------------------------------------------------


def test_valid_init_data_names_the_telegram_user() -> None:
    now = datetime.now(UTC)
    raw = sign_init_data(tg_fields(42, auth_date=int(now.timestamp()), last_name=""))
    user = check_init_data(raw, TELEGRAM_TOKEN, 86_400, now)
    assert (user.external_user_id, user.display_name) == ("tg_42", "Ann")
    assert (user.username, user.language) == ("annlee", "en")


def test_every_received_field_but_hash_is_signed_signature_included() -> None:
    now = datetime.now(UTC)
    fields = {**tg_fields(42, auth_date=int(now.timestamp())), "signature": "c2lnbmVk"}
    assert check_init_data(sign_init_data(fields), TELEGRAM_TOKEN, 60, now).id == 42
    unsigned = sign_init_data({k: v for k, v in fields.items() if k != "signature"})
    with pytest.raises(InitDataInvalid):
        check_init_data(unsigned + "&signature=c2lnbmVk", TELEGRAM_TOKEN, 60, now)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw.replace("Ann", "Bob"),  # a field changed after signing
        lambda raw: raw.replace("hash=", "hash=0"),  # a hash of the wrong length
        lambda raw: raw.rsplit("&hash=", 1)[0],  # no hash
        lambda raw: raw + "&auth_date=1",  # a repeated key
        lambda raw: raw + "&&",  # not a query string
        lambda raw: "",
    ],
)
def test_tampered_init_data_is_refused(mangle: Callable[[str], str]) -> None:
    now = datetime.now(UTC)
    raw = sign_init_data(tg_fields(auth_date=int(now.timestamp())))
    with pytest.raises(InitDataInvalid):
        check_init_data(mangle(raw), TELEGRAM_TOKEN, 86_400, now)


def test_init_data_of_another_bot_is_refused() -> None:
    now = datetime.now(UTC)
    raw = sign_init_data(tg_fields(auth_date=int(now.timestamp())), "999:another-bot")
    with pytest.raises(InitDataInvalid):
        check_init_data(raw, TELEGRAM_TOKEN, 86_400, now)


def test_init_data_age_and_clock_skew() -> None:
    now = datetime.now(UTC)
    at = int(now.timestamp())

    def check(auth_date: int, max_age: int = 3600) -> None:
        check_init_data(
            sign_init_data(tg_fields(auth_date=auth_date)), TELEGRAM_TOKEN, max_age, now
        )

    check(at - 3600)  # exactly the max age: still fine
    check(at + 30)  # a little ahead: clocks differ
    with pytest.raises(InitDataExpired):
        check(at - 3601)
    with pytest.raises(InitDataInvalid):
        check(at + 3600)  # from the future
    with pytest.raises(InitDataInvalid):
        check_init_data(
            sign_init_data({**tg_fields(), "auth_date": "soon"}), TELEGRAM_TOKEN, 60, now
        )


@pytest.mark.parametrize("user", ["", "not json", "[]", '{"id": "7"}', '{"id": 0}', '{"id": true}'])
def test_init_data_needs_a_user_with_a_numeric_id(user: str) -> None:
    now = datetime.now(UTC)
    fields = {"auth_date": str(int(now.timestamp())), "user": user}
    with pytest.raises(InitDataInvalid):
        check_init_data(sign_init_data(fields), TELEGRAM_TOKEN, 60, now)


# ---- the bot's token ------------------------------------------------------------------------


async def test_bot_token_acts_for_the_named_client(client: httpx.AsyncClient, db: Database) -> None:
    made = await make_client(db, "tg_5551")
    for params in ({"externalUserId": "tg_5551"}, {"external_user_id": "tg_5551"}):
        response = await client.get(TRANSACTIONS, params=params, headers=bot_headers())
        assert response.status_code == 200, response.text
    state = await client.get(STATE, params={"externalUserId": "tg_5551"}, headers=bot_headers())
    assert state.json()["client"]["id"] == str(made.id)


async def test_bot_token_wrong_missing_or_naming_nobody(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_client(db, "tg_5552")
    named = {"externalUserId": "tg_5552"}
    wrong = await client.get(STATE, params=named, headers=bot_headers("not-the-token"))
    assert error(wrong) == (401, "UNAUTHORIZED")
    assert "not-the-token" not in wrong.text
    assert BOT_TOKEN not in wrong.text
    assert error(await client.get(STATE, params=named)) == (401, "UNAUTHORIZED")
    nobody = await client.get(STATE, params={"externalUserId": "tg_404"}, headers=bot_headers())
    assert error(nobody) == (404, "NOT_FOUND")
    assert error(await client.get(STATE, headers=bot_headers())) == (400, "VALIDATION_ERROR")
    bad_id = await client.get(STATE, params={"externalUserId": "12"}, headers=bot_headers())
    assert error(bad_id) == (400, "VALIDATION_ERROR")


async def test_bot_access_is_off_without_bot_api_token(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(bot_api_token=""))
    try:
        async with client_for(app) as http:
            await make_client(app.state.db, "tg_5553")
            response = await http.get(
                STATE, params={"externalUserId": "tg_5553"}, headers=bot_headers()
            )
            assert error(response) == (401, "UNAUTHORIZED")
            upsert = await http.post(
                "/api/botcartd/clients", json={"external_user_id": "tg_5553"}, headers=bot_headers()
            )
            assert error(upsert) == (401, "UNAUTHORIZED")
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_failed_tokens_and_init_data_are_rate_limited_per_ip(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await make_client(db, "tg_5554")
    named = {"externalUserId": "tg_5554"}
    for attempt in range(20):
        headers = bot_headers("guess") if attempt % 2 else {"X-Telegram-Init-Data": "user=x&hash=0"}
        assert (await client.get(STATE, params=named, headers=headers)).status_code == 401
    limited = await client.get(STATE, params=named, headers=bot_headers())  # even the right one
    assert error(limited) == (429, "RATE_LIMITED")
    assert int(limited.headers["Retry-After"]) > 0
    async with client_for(app, "10.0.0.9") as elsewhere:
        assert (await elsewhere.get(STATE, params=named, headers=bot_headers())).status_code == 200


# ---- a Telegram Mini App --------------------------------------------------------------------


async def test_mini_app_user_is_created_on_first_sight(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await client.get(STATE, headers=tg_headers(31337))
    assert first.status_code == 200, first.text
    body = first.json()["client"]
    assert body["external_user_id"] == "tg_31337"
    assert (body["display_name"], body["username"], body["language"]) == ("Ann Lee", "annlee", "en")

    renamed = await client.get(
        STATE, headers=tg_headers(31337, username="ann2", language_code="de")
    )
    assert renamed.json()["client"]["id"] == body["id"]
    assert (renamed.json()["client"]["username"], renamed.json()["client"]["language"]) == (
        "ann2",
        "de",
    )
    async with db.transaction() as session:
        rows = (await session.scalars(select(Client).where(Client.username == "ann2"))).all()
    assert len(rows) == 1


async def test_mini_app_bad_expired_or_future_init_data(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    tampered = {"X-Telegram-Init-Data": tg_headers()["X-Telegram-Init-Data"].replace("Ann", "Eve")}
    assert error(await client.get(STATE, headers=tampered)) == (401, "INIT_DATA_INVALID")
    expired = tg_headers(auth_date=now - 86_401)
    assert error(await client.get(STATE, headers=expired)) == (401, "INIT_DATA_EXPIRED")
    future = tg_headers(auth_date=now + 600)
    assert error(await client.get(STATE, headers=future)) == (401, "INIT_DATA_INVALID")
    foreign = {"X-Telegram-Init-Data": sign_init_data(tg_fields(), "1:other-bot")}
    response = await client.get(STATE, headers=foreign)
    assert error(response) == (401, "INIT_DATA_INVALID")
    assert TELEGRAM_TOKEN not in response.text


async def test_init_data_max_age_follows_the_setting(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(telegram_bot_token=TELEGRAM_TOKEN, telegram_init_max_age=120)
    app, lifespan = await start_app(settings)
    try:
        async with client_for(app) as http:
            recent = tg_headers(auth_date=int(time.time()) - 60)
            assert (await http.get(STATE, headers=recent)).status_code == 200
            old = tg_headers(auth_date=int(time.time()) - 600)
            assert error(await http.get(STATE, headers=old)) == (401, "INIT_DATA_EXPIRED")
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_mini_app_access_is_off_without_telegram_bot_token(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings())
    try:
        async with client_for(app) as http:
            response = await http.get(STATE, headers=tg_headers())
            assert error(response) == (401, "INIT_DATA_INVALID")
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_last_active_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, db: Database
) -> None:
    made = await make_client(db, "tg_5555")
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    async with db.transaction() as session:
        await session.execute(
            update(Client).where(Client.id == made.id).values(last_active_at=long_ago)
        )
    named = {"externalUserId": "tg_5555"}
    await client.get(TRANSACTIONS, params=named, headers=bot_headers())
    async with db.transaction() as session:
        seen = (await session.get(Client, made.id)).last_active_at  # type: ignore[union-attr]
    assert seen is not None
    assert seen > long_ago + timedelta(hours=2)
    await client.get(TRANSACTIONS, params=named, headers=bot_headers())
    async with db.transaction() as session:
        again = (await session.get(Client, made.id)).last_active_at  # type: ignore[union-attr]
    assert again == seen


# ---- a web user's cookie --------------------------------------------------------------------


async def test_web_user_acts_as_its_web_client(app: FastAPI, db: Database) -> None:
    async with client_for(app) as http:
        own = await web_login(http, db, "web1@example.com")
        response = await http.get(STATE)
        assert response.status_code == 200, response.text
        assert response.json()["client"]["id"] == str(own.id)
        await http.post("/api/botcartd/web/logout")
        assert error(await http.get(STATE)) == (401, "UNAUTHORIZED")


async def test_web_user_linked_to_the_bot_acts_as_its_tg_client(app: FastAPI, db: Database) -> None:
    tg = await make_client(db, "tg_8080")
    async with client_for(app) as http:
        await web_login(http, db, "web2@example.com", linked_to="tg_8080")
        assert (await http.get(STATE)).json()["client"]["id"] == str(tg.id)
    # Linked to a tg_ client that does not exist (yet): its own web client.
    async with client_for(app) as http:
        own = await web_login(http, db, "web3@example.com", linked_to="tg_9090")
        assert (await http.get(STATE)).json()["client"]["id"] == str(own.id)


async def test_web_cookie_cannot_name_another_client(app: FastAPI, db: Database) -> None:
    await make_client(db, "tg_7070")
    async with client_for(app) as http:
        own = await web_login(http, db, "web4@example.com")
        response = await http.get(STATE, params={"externalUserId": "tg_7070"})
        assert response.json()["client"]["id"] == str(own.id)
    async with client_for(app) as forged:
        forged.cookies.set("client_token", "forged")
        assert error(await forged.get(STATE)) == (401, "UNAUTHORIZED")


# ---- an operator reading state --------------------------------------------------------------


async def test_operator_reads_any_clients_state_and_nothing_else(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    made = await make_client(db, "tg_6060", display_name="Zed")
    response = await admin_client.get(STATE, params={"externalUserId": "tg_6060"})
    assert response.status_code == 200, response.text
    assert response.json()["client"]["id"] == str(made.id)
    # The operator's look is not the client's activity, and gives it no plan.
    async with db.transaction() as session:
        seen = await session.get(Client, made.id)
    assert seen is not None
    assert seen.last_active_at == made.last_active_at
    assert seen.plan_id is None
    missing = await admin_client.get(STATE, params={"externalUserId": "tg_6061"})
    assert error(missing) == (404, "NOT_FOUND")
    assert error(await admin_client.get(STATE)) == (401, "UNAUTHORIZED")
    other = await admin_client.get(TRANSACTIONS, params={"externalUserId": "tg_6060"})
    assert error(other) == (401, "UNAUTHORIZED")


async def test_a_forged_operator_cookie_reads_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_client(db, "tg_6062")
    client.cookies.set("admin_token", "forged")
    response = await client.get(STATE, params={"externalUserId": "tg_6062"})
    assert error(response) == (401, "ADMIN_TOKEN_INVALID")
