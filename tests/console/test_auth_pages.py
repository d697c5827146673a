"""Signing in and out of the console: the API's login service, cookie and rate limit."""

from __future__ import annotations

import re

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry
from tests.conftest import client_for
from tests.console.helpers import console_sign_in, csrf_for, post_form
from tests.factories import create_operator


async def _actions(db: Database) -> list[str]:
    async with db.transaction() as s:
        rows = await s.scalars(select(AuditEntry).order_by(AuditEntry.created_at))
        return [r.action for r in rows]


async def test_signed_out_pages_redirect_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/merchants")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/merchants"


async def test_sign_in_page_words_it_as_the_seed(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/login")
    assert response.status_code == 200
    assert "Sign in with an operator account." in response.text
    assert "Code from Google Authenticator (or a backup code)" in response.text
    assert "console_csrf" in response.cookies
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]


async def test_sign_in_with_code_then_sign_out(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    response = await console_sign_in(client, op, next_path="/admin/sessions")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sessions"
    cookie = response.headers["set-cookie"]
    assert "admin_token=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert (await client.get("/admin")).status_code == 200
    # The same cookie opens the admin API: one session for both.
    assert (await client.get("/api/v1/admin/auth/me")).json()["email"] == op.email

    response = await post_form(client, "/admin", "/admin/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?signed_out=1"
    assert (await client.get("/admin")).status_code == 303
    assert await _actions(db) == ["auth.login", "auth.logout"]


async def test_next_never_leaves_the_console(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    response = await console_sign_in(client, op, next_path="//evil.example.com/admin")
    assert response.headers["location"] == "/admin"


async def test_signed_in_visit_to_sign_in_goes_to_the_dashboard(
    client: httpx.AsyncClient, db: Database
) -> None:
    await console_sign_in(client, await create_operator(db))
    response = await client.get("/admin/login")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"


async def test_errors_are_shown_plainly(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    token = await csrf_for(client, "/admin/login")
    form = {"csrf_token": token, "email": op.email, "password": "wrong password"}
    response = await client.post("/admin/login", data=form)
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert f'value="{op.email}"' in response.text  # the email is kept, the password is not

    form = {"csrf_token": token, "email": op.email, "password": op.password}
    response = await client.post("/admin/login", data=form)
    assert response.status_code == 401
    assert "Enter the code from Google Authenticator (or a backup code)." in response.text

    response = await client.post("/admin/login", data={**form, "totp_code": "000000"})
    assert response.status_code == 401
    assert "That code is wrong or was already used." in response.text
    assert await _actions(db) == ["auth.login_failed", "auth.login_failed"]


async def test_rate_limit_is_shown(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    token = await csrf_for(client, "/admin/login")
    form = {"csrf_token": token, "email": op.email, "password": "wrong password"}
    for _ in range(5):
        assert (await client.post("/admin/login", data=form)).status_code == 401
    response = await client.post("/admin/login", data={**form, "password": op.password})
    assert response.status_code == 429
    assert re.search(r"Too many sign-in attempts\. Try again in \d+ minutes?\.", response.text)
    assert int(response.headers["retry-after"]) > 0


async def test_sign_in_form_needs_its_csrf_token(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    form = {"email": op.email, "password": op.password, "totp_code": op.code()}
    assert (await client.post("/admin/login", data=form)).status_code == 403
    await client.get("/admin/login")  # the pre-session cookie alone is not enough
    response = await client.post("/admin/login", data={**form, "csrf_token": "x" * 64})
    assert response.status_code == 403
    assert "did not come from this console" in response.text
    assert await _actions(db) == []


async def test_first_sign_in_enrolls_with_qr_and_backup_codes(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    op = await create_operator(db, with_totp=False)
    token = await csrf_for(client, "/admin/login")
    response = await client.post(
        "/admin/login", data={"csrf_token": token, "email": op.email, "password": op.password}
    )
    assert response.status_code == 200
    page = response.text
    assert "Scan the QR in Google Authenticator and enter the 6-digit code" in page
    assert "<svg" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    setup = re.search(r'name="setup_token" value="([^"]+)"', page)
    uri = re.search(r'name="otpauth_uri" value="([^"]+)"', page)
    assert setup
    assert uri
    fields = {
        "csrf_token": token,
        "setup_token": setup.group(1),
        "otpauth_uri": uri.group(1).replace("&amp;", "&"),
        "email": op.email,
    }

    wrong = await client.post("/admin/login/enroll", data={**fields, "totp_code": "000000"})
    assert wrong.status_code == 401
    assert "That code is wrong" in wrong.text
    assert "<svg" in wrong.text  # the QR is still there to scan

    code = pyotp.TOTP(secret.group(1)).now()
    response = await client.post("/admin/login/enroll", data={**fields, "totp_code": code})
    assert response.status_code == 200
    assert "shown only this once" in response.text
    codes = re.findall(r"<li>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</li>", response.text)
    assert len(codes) == 10
    assert "admin_token=" in response.headers["set-cookie"]
    assert (await client.get("/admin")).status_code == 200
    assert "auth.totp_enroll" in await _actions(db)

    # A backup code signs in (once).
    async with client_for(app) as other:
        token = await csrf_for(other, "/admin/login")
        form = {"csrf_token": token, "email": op.email, "password": op.password}
        ok = await other.post("/admin/login", data={**form, "totp_code": codes[0]})
        assert ok.status_code == 303


async def test_sign_out_needs_the_csrf_token(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post("/admin/logout", data={"csrf_token": "nope"})
    assert response.status_code == 403
    assert (await admin_client.get("/admin")).status_code == 200


async def test_revoked_cookie_redirects_and_is_cleared(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as c:
        await console_sign_in(c, op)
        await post_form(c, "/admin/sessions", "/api/v1/admin/auth/logout")
        response = await c.get("/admin/sessions")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login")
