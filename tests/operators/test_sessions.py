"""Sessions: logout, revocation and password changes take effect at once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import update

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import OperatorSession
from tests.conftest import client_for
from tests.factories import PASSWORD, create_operator, sign_in

ME = "/api/v1/admin/auth/me"
SESSIONS = "/api/v1/admin/sessions"


async def test_missing_and_garbage_cookies(client: httpx.AsyncClient) -> None:
    missing = await client.get(ME)
    assert missing.status_code == 401
    assert missing.json()["code"] == "ADMIN_UNAUTHORIZED"
    garbage = await client.get(ME, headers={"Cookie": "admin_token=not-a-jwt"})
    assert garbage.status_code == 401
    assert garbage.json()["code"] == "ADMIN_TOKEN_INVALID"


async def test_a_token_signed_with_another_key_is_invalid(
    client: httpx.AsyncClient, db: Database
) -> None:
    op = await create_operator(db)
    await sign_in(client, op)
    claims = jwt.decode(client.cookies["admin_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "another-key-" + "y" * 32, algorithm="HS256")
    client.cookies.clear()
    response = await client.get(ME, headers={"Cookie": f"admin_token={forged}"})
    assert response.json()["code"] == "ADMIN_TOKEN_INVALID"


async def test_logout_ends_the_session_at_once(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    await sign_in(client, op)
    token = client.cookies["admin_token"]
    assert (await client.get(ME)).status_code == 200
    out = await client.post("/api/v1/admin/auth/logout")
    assert out.status_code == 200
    assert out.json() == {"ok": True}
    assert 'admin_token=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    client.cookies.clear()
    again = await client.get(ME, headers={"Cookie": f"admin_token={token}"})
    assert again.status_code == 401
    assert again.json()["code"] == "ADMIN_TOKEN_INVALID"


async def test_expired_session_is_invalid(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    await sign_in(client, op)
    async with db.transaction() as session:
        await session.execute(
            update(OperatorSession).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await client.get(ME)).json()["code"] == "ADMIN_TOKEN_INVALID"


async def test_revoking_another_session_of_mine(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as laptop, client_for(app, ip="10.1.1.1") as phone:
        await sign_in(laptop, op, step=0)
        await sign_in(phone, op, step=1)
        listed = (await laptop.get(SESSIONS)).json()["data"]
        assert len(listed) == 2
        phone_row = next(s for s in listed if not s["current"])
        assert phone_row["ip"] == "10.1.1.1"
        assert {"created_at", "last_seen_at", "user_agent", "operator_email"} <= phone_row.keys()
        revoked = await laptop.delete(f"{SESSIONS}/{phone_row['id']}")
        assert revoked.status_code == 200
        assert (await phone.get(ME)).json()["code"] == "ADMIN_TOKEN_INVALID"
        assert (await laptop.get(ME)).status_code == 200
        gone = await laptop.delete(f"{SESSIONS}/{phone_row['id']}")
        assert gone.status_code == 404


async def test_only_the_primary_sees_and_revokes_others_sessions(
    app: FastAPI, db: Database
) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    worker = await create_operator(db, "worker@example.com")
    async with client_for(app) as b, client_for(app) as w:
        await sign_in(b, boss)
        await sign_in(w, worker)
        mine = (await w.get(SESSIONS)).json()["data"]
        assert [s["operator_email"] for s in mine] == ["worker@example.com"]
        everyone = (await b.get(SESSIONS)).json()["data"]
        assert {s["operator_email"] for s in everyone} == {"boss@example.com", "worker@example.com"}
        boss_session = next(s for s in everyone if s["operator_email"] == "boss@example.com")
        assert (await w.delete(f"{SESSIONS}/{boss_session['id']}")).status_code == 404
        worker_session = next(s for s in everyone if s["operator_email"] == "worker@example.com")
        assert (await b.delete(f"{SESSIONS}/{worker_session['id']}")).status_code == 200
        assert (await w.get(ME)).json()["code"] == "ADMIN_TOKEN_INVALID"


async def test_password_change_ends_other_sessions(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as one, client_for(app) as two:
        await sign_in(one, op, step=0)
        await sign_in(two, op, step=1)
        wrong = await one.post(
            "/api/v1/admin/auth/password",
            json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
        )
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "INVALID_PASSWORD"
        short = await one.post(
            "/api/v1/admin/auth/password",
            json={"current_password": PASSWORD, "new_password": "short"},
        )
        assert short.status_code == 400
        assert short.json()["code"] == "INVALID_BODY"
        changed = await one.post(
            "/api/v1/admin/auth/password",
            json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"},
        )
        assert changed.status_code == 200
        assert (await one.get(ME)).status_code == 200
        assert (await two.get(ME)).json()["code"] == "ADMIN_TOKEN_INVALID"
    async with client_for(app) as fresh:
        old = await fresh.post(
            "/api/v1/admin/auth/login",
            json={"email": op.email, "password": PASSWORD, "totp_code": op.code(-1)},
        )
        assert old.json()["code"] == "INVALID_PASSWORD"


async def test_bad_session_id_is_not_found(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, await create_operator(db))
    response = await client.delete(f"{SESSIONS}/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
