"""Web sign-ups over HTTP: sign up (mailed over real SMTP), verify, sign in and out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import select, update

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client, WebUser, WebUserSession
from paywarden.web_users import service, tokens
from paywarden.web_users.errors import ClientUnauthorized
from tests.conftest import client_for, start_app
from tests.web_users.conftest import PASSWORD, link_token, signup, signup_verified
from tests.web_users.smtp_receiver import SmtpReceiver


async def _user(db: Database, email: str) -> WebUser:
    async with db.transaction() as session:
        user = await session.scalar(select(WebUser).where(WebUser.email == email))
    assert user is not None
    return user


async def test_signup_mails_a_link_that_activates_the_account(
    client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    assert await signup(client, "Ann@Example.com") == {"status": "pending"}
    user = await _user(db, "ann@example.com")  # stored lowercased
    assert user.status == "pending"
    assert user.password_hash.startswith("$argon2id$")
    assert user.email_verified_at is None
    assert user.client_id is None

    [mail] = mailbox.messages
    assert mail.rcpt_to == ["<ann@example.com>"]
    assert mail.message["From"] == "Cards <cards@example.com>"
    token = link_token(mailbox, "ann@example.com")
    body = mail.message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "http://127.0.0.1:8000/app/verify?token=" in body.decode()

    response = await client.get("/api/botcartd/web/verify", params={"token": token})
    assert response.status_code == 200
    assert response.json() == {"status": "active"}
    user = await _user(db, "ann@example.com")
    assert user.status == "active"
    assert user.email_verified_at is not None
    async with db.transaction() as session:
        made = await session.get(Client, user.client_id)
    assert made is not None
    assert made.external_user_id == f"web_{user.id}"

    # A second click is harmless and keeps the same client.
    again = await client.get("/api/botcartd/web/verify", params={"token": token})
    assert again.status_code == 200
    assert (await _user(db, "ann@example.com")).client_id == user.client_id


async def test_login_sets_a_cookie_naming_a_session_that_logout_revokes(
    app: FastAPI, client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup_verified(client, mailbox, "bob@example.com")
    user = await _user(db, "bob@example.com")
    response = await client.post(
        "/api/botcartd/web/login", json={"email": "BOB@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "client_id": str(user.client_id),
        "external_user_id": f"web_{user.id}",
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{tokens.COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # development over http
    token = client.cookies[tokens.COOKIE_NAME]
    assert (await _user(db, "bob@example.com")).last_login_at is not None

    ctx = app.state.web_users
    async with db.transaction() as session:
        assert (await service.authenticate(session, ctx, token)).id == user.id
    # The operator cookie's key signs it, but an admin session does not accept it (audience).
    from paywarden.operators import tokens as operator_tokens

    assert operator_tokens.decode(ctx.signing_key, token) is None

    out = await client.post("/api/botcartd/web/logout")
    assert out.status_code == 200
    assert out.json() == {"ok": True}
    assert tokens.COOKIE_NAME not in client.cookies
    assert (
        'client_token=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    async with db.transaction() as session:
        with pytest.raises(ClientUnauthorized):
            await service.authenticate(session, ctx, token)
        row = await session.scalar(select(WebUserSession))
    assert row is not None
    assert row.revoked_at is not None

    # Logout without a cookie (or with garbage) still answers and clears.
    client.cookies.set(tokens.COOKIE_NAME, "garbage")
    assert (await client.post("/api/botcartd/web/logout")).status_code == 200


async def test_duplicate_email_is_refused_case_insensitively(
    client: httpx.AsyncClient, mailbox: SmtpReceiver
) -> None:
    await signup(client, "cat@example.com")
    response = await client.post(
        "/api/botcartd/web/signup", json={"email": "CAT@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "dan@example.com", "password": "short12345"[:9]},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "dan@example.com"},
        {"password": PASSWORD},
    ],
)
async def test_signup_validation(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    response = await client.post("/api/botcartd/web/signup", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_BODY"


async def test_camel_case_and_ten_character_password_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/botcartd/web/signup", json={"Email": "eve@example.com", "password": "0123456789"}
    )
    assert response.status_code == 201


async def test_tampered_foreign_and_expired_tokens(
    app: FastAPI, client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup(client, "fay@example.com")
    user = await _user(db, "fay@example.com")
    token = link_token(mailbox, "fay@example.com")
    header, payload, mac = token.split(".")  # a JWT
    flipped = ("A" if payload[0] != "A" else "B") + payload[1:]
    key = app.state.web_users.signing_key

    async def verify(t: str) -> httpx.Response:
        return await client.get("/api/botcartd/web/verify", params={"token": t})

    for bad in [
        f"{header}.{flipped}.{mac}",
        f"{header}.{payload}.{mac[:-2]}",
        "garbage",
        "a.b.c",
        "%%%.%%%",
        tokens.issue_session(  # a session token is no verification token (its audience)
            key,
            web_user_id=user.id,
            session_id=uuid.uuid4(),
            issued=utcnow(),
            expires=utcnow() + timedelta(1),
        ),
        tokens.issue_verification("another-key-" + "y" * 32, user.id, utcnow() + timedelta(1)),
        tokens.issue_verification(key, uuid.uuid4(), utcnow() + timedelta(1)),  # no such user
    ]:
        response = await verify(bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "TOKEN_INVALID", bad

    expired = tokens.issue_verification(key, user.id, utcnow() - timedelta(seconds=1))
    response = await verify(expired)
    assert response.status_code == 400
    assert response.json()["code"] == "TOKEN_EXPIRED"
    assert (await _user(db, "fay@example.com")).status == "pending"

    missing = await client.get("/api/botcartd/web/verify")
    assert missing.status_code == 400
    assert missing.json()["code"] == "INVALID_QUERY"


async def test_verify_ttl_follows_the_setting(
    make_settings: Callable[..., Settings], mailbox: SmtpReceiver
) -> None:
    app, lifespan = await start_app(make_settings(smtp_url=mailbox.url, web_verify_ttl_seconds=60))
    try:
        async with client_for(app) as c:
            await signup(c, "gus@example.com")
        claims = tokens.read_verification(
            app.state.web_users.signing_key, link_token(mailbox, "gus@example.com")
        )
        assert claims is not None
        left = (claims.expires - utcnow()).total_seconds()
        assert 55 <= left <= 61
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_login_failures_share_one_answer(
    client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup(client, "hal@example.com")

    async def login(email: str, password: str) -> httpx.Response:
        return await client.post(
            "/api/botcartd/web/login", json={"email": email, "password": password}
        )

    unknown = await login("nobody@example.com", PASSWORD)
    wrong = await login("hal@example.com", "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"
    assert "set-cookie" not in wrong.headers

    pending = await login("hal@example.com", PASSWORD)
    assert pending.status_code == 403
    assert pending.json()["code"] == "EMAIL_NOT_VERIFIED"
    assert "set-cookie" not in pending.headers


async def test_disabled_account_cannot_sign_in_or_verify(
    client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup(client, "ida@example.com")
    token = link_token(mailbox, "ida@example.com")
    async with db.transaction() as session:
        await session.execute(
            update(WebUser).where(WebUser.email == "ida@example.com").values(status="disabled")
        )
    response = await client.post(
        "/api/botcartd/web/login", json={"email": "ida@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "ACCOUNT_DISABLED"
    verify = await client.get("/api/botcartd/web/verify", params={"token": token})
    assert verify.status_code == 403
    assert verify.json()["code"] == "ACCOUNT_DISABLED"
    # Wrong password on a disabled account says nothing about the account.
    wrong = await client.post(
        "/api/botcartd/web/login", json={"email": "ida@example.com", "password": "nope nope!"}
    )
    assert wrong.status_code == 401


async def test_disabling_ends_live_sessions(
    app: FastAPI, client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup_verified(client, mailbox, "jo@example.com")
    await client.post(
        "/api/botcartd/web/login", json={"email": "jo@example.com", "password": PASSWORD}
    )
    token = client.cookies[tokens.COOKIE_NAME]
    async with db.transaction() as session:
        await session.execute(update(WebUser).values(status="disabled"))
    async with db.transaction() as session:
        with pytest.raises(ClientUnauthorized):
            await service.authenticate(session, app.state.web_users, token)


async def test_login_is_rate_limited_per_ip_and_per_email(
    app: FastAPI, client: httpx.AsyncClient, mailbox: SmtpReceiver
) -> None:
    await signup_verified(client, mailbox, "kim@example.com")
    body = {"email": "kim@example.com", "password": "wrong password"}
    for _ in range(5):
        assert (await client.post("/api/botcartd/web/login", json=body)).status_code == 401
    # Even the right password is refused now, with Retry-After.
    good = {"email": "kim@example.com", "password": PASSWORD}
    limited = await client.post("/api/botcartd/web/login", json=good)
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    # Per email: another IP is refused for this account too...
    async with client_for(app, "10.0.0.2") as other:
        again = await other.post("/api/botcartd/web/login", json=good)
        assert again.status_code == 429
        # ...and per IP: the first IP is refused for any account.
    async with client_for(app, "10.0.0.3") as third:
        for i in range(5):
            wrong = {"email": f"x{i}@example.com", "password": "wrong password"}
            assert (await third.post("/api/botcartd/web/login", json=wrong)).status_code == 401
        other_account = {"email": "someone@example.com", "password": "wrong password"}
        assert (await third.post("/api/botcartd/web/login", json=other_account)).status_code == 429


async def test_failed_smtp_refuses_the_signup_and_keeps_nothing(
    make_settings: Callable[..., Settings], mailbox: SmtpReceiver
) -> None:
    await mailbox.stop()  # nothing listens on that port any more
    app, lifespan = await start_app(make_settings(smtp_url=mailbox.url))
    try:
        async with client_for(app) as c:
            response = await c.post(
                "/api/botcartd/web/signup", json={"email": "lea@example.com", "password": PASSWORD}
            )
            assert response.status_code == 503
            assert response.json()["code"] == "EMAIL_UNAVAILABLE"
        async with app.state.db.transaction() as session:
            assert await session.scalar(select(WebUser)) is None
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_development_without_smtp_logs_the_link(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(smtp_url=None, log_level="INFO"))
    try:
        async with client_for(app) as c:
            with structlog.testing.capture_logs() as logs:
                await signup(c, "max@example.com")
            [line] = [e for e in logs if e["event"] == "web_verify_link"]
            assert line["email"] == "max@example.com"
            token = line["link"].split("token=", 1)[1]
            verified = await c.get("/api/botcartd/web/verify", params={"token": token})
            assert verified.json() == {"status": "active"}
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_production_without_smtp_refuses_signup(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(env="production", smtp_url=None))
    try:
        async with client_for(app, https=True) as c:
            response = await c.post(
                "/api/botcartd/web/signup", json={"email": "ned@example.com", "password": PASSWORD}
            )
        assert response.status_code == 503
        assert response.json()["code"] == "EMAIL_UNAVAILABLE"
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_production_cookie_is_secure(
    make_settings: Callable[..., Settings], mailbox: SmtpReceiver
) -> None:
    app, lifespan = await start_app(make_settings(env="production", smtp_url=mailbox.url))
    try:
        async with client_for(app, https=True) as c:
            await signup_verified(c, mailbox, "ola@example.com")
            response = await c.post(
                "/api/botcartd/web/login", json={"email": "ola@example.com", "password": PASSWORD}
            )
            assert response.status_code == 200
            assert "Secure" in response.headers["set-cookie"]
    finally:
        await lifespan.__aexit__(None, None, None)


def test_smtp_url_must_be_smtp(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="SMTP_URL") as caught:
        make_settings(smtp_url="http://user:hunter2@mail.example.com")
    assert "hunter2" not in str(caught.value)
