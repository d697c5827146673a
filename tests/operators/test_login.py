"""Sign-in with real TOTP codes: enrollment, replay refusal, backup codes, cookie flags."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pyotp
import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.kit import security
from paywarden.kit.db import Database
from tests.conftest import TEST_PASSWORD_PARAMETERS, client_for, start_app
from tests.factories import PASSWORD, create_operator, sign_in

LOGIN = "/api/v1/admin/auth/login"
ENROLL = "/api/v1/admin/auth/totp/enroll"
ME = "/api/v1/admin/auth/me"


async def test_first_sign_in_enrolls_2fa_then_signs_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    await create_operator(db, "new@example.com", with_totp=False)
    response = await client.post(LOGIN, json={"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["totp_setup_required"] is True
    assert body["qr_svg"].startswith("<svg")
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert unquote(uri.path) == "/PayWarden:new@example.com"
    query = parse_qs(uri.query)
    assert query["issuer"] == ["PayWarden"]
    secret = query["secret"][0]
    assert "admin_token" not in response.cookies

    wrong = await client.post(
        ENROLL,
        json={
            "setup_token": body["setup_token"],
            "totp_code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
        },
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "INVALID_TOTP"

    enrolled = await client.post(
        ENROLL, json={"setup_token": body["setup_token"], "totp_code": pyotp.TOTP(secret).now()}
    )
    assert enrolled.status_code == 200, enrolled.text
    codes = enrolled.json()["backup_codes"]
    assert enrolled.json()["ok"] is True
    assert len(codes) == 10
    assert len(set(codes)) == 10
    me = await client.get(ME)
    assert me.status_code == 200
    assert me.json()["totp_enabled"] is True
    assert me.json()["last_login_at"] is not None

    # The setup token is spent.
    reuse = await client.post(
        ENROLL, json={"setup_token": body["setup_token"], "totp_code": pyotp.TOTP(secret).now()}
    )
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "SETUP_TOKEN_INVALID"


async def test_enrollment_with_unknown_token(client: httpx.AsyncClient) -> None:
    response = await client.post(ENROLL, json={"setup_token": "nope", "totp_code": "123456"})
    assert response.status_code == 401
    assert response.json()["code"] == "SETUP_TOKEN_INVALID"


async def test_with_2fa_a_code_is_required_and_must_be_right(
    client: httpx.AsyncClient, db: Database
) -> None:
    op = await create_operator(db)
    no_code = await client.post(LOGIN, json={"email": op.email, "password": PASSWORD})
    assert no_code.status_code == 401
    assert no_code.json()["code"] == "TOTP_REQUIRED"
    bad = "000000" if op.code() != "000000" else "111111"
    wrong = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": bad}
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "INVALID_TOTP"
    await sign_in(client, op)
    assert (await client.get(ME)).json()["email"] == op.email


async def test_a_code_is_refused_once_accepted_in_its_step(
    client: httpx.AsyncClient, db: Database
) -> None:
    op = await create_operator(db)
    code = op.code()
    first = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": code}
    )
    assert first.status_code == 200
    replay = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": code}
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "INVALID_TOTP"
    # An earlier step is also a replay once a later one was accepted.
    earlier = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": op.code(-1)}
    )
    assert earlier.status_code == 401
    # The next step's code (clock drift allowance) is new, so it is accepted.
    await sign_in(client, op, step=1)


async def test_backup_code_works_once(client: httpx.AsyncClient, db: Database) -> None:
    await create_operator(db, "b@example.com", with_totp=False)
    setup = (await client.post(LOGIN, json={"email": "b@example.com", "password": PASSWORD})).json()
    secret = parse_qs(urlparse(setup["otpauth_uri"]).query)["secret"][0]
    codes = (
        await client.post(
            ENROLL,
            json={"setup_token": setup["setup_token"], "totp_code": pyotp.TOTP(secret).now()},
        )
    ).json()["backup_codes"]
    body = {"email": "b@example.com", "password": PASSWORD, "totp_code": codes[3].upper()}
    first = await client.post(LOGIN, json=body)
    assert first.status_code == 200
    again = await client.post(LOGIN, json=body)
    assert again.status_code == 401
    assert again.json()["code"] == "INVALID_TOTP"
    other = await client.post(LOGIN, json={**body, "totp_code": codes[4]})
    assert other.status_code == 200


async def test_wrong_password_and_unknown_email_answer_the_same(
    client: httpx.AsyncClient, db: Database
) -> None:
    op = await create_operator(db)
    wrong = await client.post(LOGIN, json={"email": op.email, "password": "nope nope nope"})
    unknown = await client.post(LOGIN, json={"email": "who@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"error": "Invalid password", "code": "INVALID_PASSWORD"}
    )


async def test_without_email_the_primary_signs_in(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(admin_email="Boss@Example.com", admin_password="boss password 123")
    app, lifespan = await start_app(settings)
    try:
        async with client_for(app) as client:
            setup = await client.post(LOGIN, json={"password": "boss password 123"})
            assert setup.status_code == 200
            assert setup.json()["totp_setup_required"] is True
            assert "PayWarden:boss%40example.com" in setup.json()["otpauth_uri"]
            wrong = await client.post(LOGIN, json={"password": "not the password"})
            assert wrong.json()["code"] == "INVALID_PASSWORD"
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_cookie_flags_in_development(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    response = await sign_in(client, op)
    cookie = response.headers["set-cookie"]
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in cookie.split(";")}
    assert cookie.startswith("admin_token=")
    assert "httponly" in parts
    assert parts["samesite"].lower() == "samesite=strict"
    assert parts["max-age"] == "Max-Age=86400"
    assert parts["path"] == "Path=/"
    assert "secure" not in parts


async def test_cookie_is_secure_in_production(make_settings: Callable[..., Settings]) -> None:
    app, lifespan = await start_app(make_settings(env="production"))
    try:
        op = await create_operator(app.state.db)
        async with client_for(app) as client:
            response = await sign_in(client, op)
        assert "secure" in response.headers["set-cookie"].lower().split("; ")
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_camel_case_body_is_accepted(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    response = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totpCode": op.code()}
    )
    assert response.status_code == 200


async def test_setup_token_expires_after_ten_minutes(
    client: httpx.AsyncClient, db: Database
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from paywarden.kit.time import utcnow
    from paywarden.models import TotpEnrollment

    await create_operator(db, "late@example.com", with_totp=False)
    setup = (
        await client.post(LOGIN, json={"email": "late@example.com", "password": PASSWORD})
    ).json()
    secret = parse_qs(urlparse(setup["otpauth_uri"]).query)["secret"][0]
    async with db.transaction() as session:
        row = await session.scalar(select(TotpEnrollment))
        assert row is not None
        assert timedelta(minutes=9) < row.expires_at - utcnow() <= timedelta(minutes=10)
        await session.execute(update(TotpEnrollment).values(expires_at=utcnow()))
    late = await client.post(
        ENROLL, json={"setup_token": setup["setup_token"], "totp_code": pyotp.TOTP(secret).now()}
    )
    assert late.status_code == 401
    assert late.json()["code"] == "SETUP_TOKEN_INVALID"


@pytest.fixture
def production_hashing() -> Iterator[None]:
    """argon2id at the production cost for one test: its timing is what the test compares."""
    security.use_parameters(RFC_9106_LOW_MEMORY)
    yield
    security.use_parameters(TEST_PASSWORD_PARAMETERS)


async def test_unknown_email_takes_about_as_long_as_a_wrong_password(
    production_hashing: None, app: FastAPI, db: Database
) -> None:
    op = await create_operator(db)

    async def timed(ip: str, email: str) -> float:
        async with client_for(app, ip=ip) as client:
            started = time.perf_counter()
            response = await client.post(LOGIN, json={"email": email, "password": "wrong pw!!"})
            assert response.status_code == 401
            return time.perf_counter() - started

    wrong = statistics.median([await timed(f"10.9.0.{i}", op.email) for i in range(3)])
    unknown = statistics.median(
        [await timed(f"10.9.1.{i}", f"ghost{i}@example.com") for i in range(3)]
    )
    # Both pay for one argon2id check (~0.1 s), so neither answer tells an account exists.
    assert 0.5 < unknown / wrong < 2.0
