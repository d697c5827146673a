"""Only the primary operator adds, removes and resets the 2FA of operators."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
from fastapi import FastAPI

from paywarden.kit.db import Database
from tests.conftest import client_for
from tests.factories import PASSWORD, create_operator, sign_in

OPERATORS = "/api/v1/admin/operators"
NEW = {"email": "New.Person@example.com", "password": "twelve chars min", "role": "operator"}


async def test_primary_manages_operators(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as client:
        await sign_in(client, boss)
        created = await client.post(OPERATORS, json=NEW)
        assert created.status_code == 201
        person = created.json()
        assert person["email"] == "new.person@example.com"
        assert person["role"] == "operator"
        assert person["is_primary"] is False
        assert "password" not in str(person)
        taken = await client.post(OPERATORS, json=NEW)
        assert taken.status_code == 409
        assert taken.json()["code"] == "OPERATOR_EMAIL_TAKEN"
        listed = (await client.get(OPERATORS)).json()["data"]
        assert [o["email"] for o in listed] == ["boss@example.com", "new.person@example.com"]

        deleted = await client.delete(f"{OPERATORS}/{person['id']}")
        assert deleted.status_code == 200
        assert len((await client.get(OPERATORS)).json()["data"]) == 1
        assert (await client.delete(f"{OPERATORS}/{person['id']}")).status_code == 404
        # The same email can be added again: the old row is revived, its history kept.
        again = await client.post(OPERATORS, json=NEW)
        assert again.status_code == 201
        assert again.json()["id"] == person["id"]
        assert again.json()["totp_enabled"] is False

        protected = await client.delete(f"{OPERATORS}/{boss.operator.id}")
        assert protected.status_code == 409
        assert protected.json()["code"] == "PRIMARY_OPERATOR_PROTECTED"


async def test_deleted_operator_is_signed_out_and_cannot_sign_in(
    app: FastAPI, db: Database
) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    worker = await create_operator(db, "worker@example.com")
    async with client_for(app) as b, client_for(app) as w:
        await sign_in(b, boss)
        await sign_in(w, worker)
        assert (await b.delete(f"{OPERATORS}/{worker.operator.id}")).status_code == 200
        assert (await w.get("/api/v1/admin/auth/me")).json()["code"] == "ADMIN_TOKEN_INVALID"
        login = await w.post(
            "/api/v1/admin/auth/login",
            json={"email": worker.email, "password": PASSWORD, "totp_code": worker.code(1)},
        )
        assert login.json()["code"] == "INVALID_PASSWORD"


async def test_reset_2fa_makes_the_operator_enroll_again(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    worker = await create_operator(db, "worker@example.com")
    async with client_for(app) as b, client_for(app) as w:
        await sign_in(b, boss)
        await sign_in(w, worker)
        reset = await b.post(f"{OPERATORS}/{worker.operator.id}/reset-2fa")
        assert reset.status_code == 200
        assert (await w.get("/api/v1/admin/auth/me")).json()["code"] == "ADMIN_TOKEN_INVALID"
        login = await w.post(
            "/api/v1/admin/auth/login", json={"email": worker.email, "password": PASSWORD}
        )
        assert login.json()["totp_setup_required"] is True
        secret = parse_qs(urlparse(login.json()["otpauth_uri"]).query)["secret"][0]
        assert secret != worker.secret
        enrolled = await w.post(
            "/api/v1/admin/auth/totp/enroll",
            json={
                "setup_token": login.json()["setup_token"],
                "totp_code": pyotp.TOTP(secret).now(),
            },
        )
        assert enrolled.status_code == 200
        assert (
            await b.post(f"{OPERATORS}/00000000-0000-0000-0000-000000000000/reset-2fa")
        ).status_code == 404


async def test_a_non_primary_super_admin_may_read_but_not_write(app: FastAPI, db: Database) -> None:
    await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    admin = await create_operator(db, "admin@example.com", role="super_admin")
    async with client_for(app) as client:
        await sign_in(client, admin)
        assert (await client.get(OPERATORS)).status_code == 200
        refused = await client.post(OPERATORS, json=NEW)
        assert refused.status_code == 403
        assert refused.json()["code"] == "FORBIDDEN"
        assert (await client.post(f"{OPERATORS}/{admin.operator.id}/reset-2fa")).status_code == 403


async def test_bad_bodies_change_nothing(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as client:
        await sign_in(client, boss)
        for body in (
            {**NEW, "role": "god"},
            {**NEW, "password": "short"},
            {**NEW, "email": "nope"},
            [],
        ):
            response = await client.post(OPERATORS, json=body)
            assert response.status_code == 400, body
            assert response.json()["code"] == "INVALID_BODY"
        assert len((await client.get(OPERATORS)).json()["data"]) == 1
