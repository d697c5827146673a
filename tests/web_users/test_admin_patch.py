"""`PATCH /api/v1/admin/web-users/<id>`: disable (signing out) and enable a login, link it to a
bot client or unlink it; audited."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.kit.security import hash_password
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, WebUser, WebUserSession
from paywarden.web_users import service
from paywarden.web_users.errors import ClientUnauthorized
from paywarden.web_users.tokens import COOKIE_NAME
from tests.web_users.conftest import PASSWORD

URL = "/api/v1/admin/web-users"
LOGIN = "/api/botcartd/web/login"


async def verified_user(db: Database, email: str) -> WebUser:
    async with db.transaction() as session:
        client = await clients.upsert_client(session, f"web_{uuid.uuid4().hex[:12]}")
        user = WebUser(
            email=email,
            password_hash=hash_password(PASSWORD),
            status="active",
            email_verified_at=utcnow(),
            client_id=client.id,
        )
        session.add(user)
    return user


async def audit_rows(db: Database) -> list[AuditEntry]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "web_user.update")
            .order_by(AuditEntry.created_at)
        )
        return list(rows)


async def test_disable_signs_out_and_refuses_login_enable_lets_in_again(
    app: FastAPI, admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    user = await verified_user(db, "dana@example.com")
    signed = await client.post(LOGIN, json={"email": "dana@example.com", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    token = signed.cookies[COOKIE_NAME]
    async with db.transaction() as session:
        assert (await service.authenticate(session, app.state.web_users, token)).id == user.id

    response = await admin_client.patch(f"{URL}/{user.id}", json={"status": "disabled"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "disabled"
    assert response.json()["email"] == "dana@example.com"
    async with db.transaction() as session:
        live = await session.scalars(
            select(WebUserSession).where(WebUserSession.revoked_at.is_(None))
        )
        assert live.all() == []
        with pytest.raises(ClientUnauthorized):
            await service.authenticate(session, app.state.web_users, token)
    refused = await client.post(LOGIN, json={"email": "dana@example.com", "password": PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (403, "ACCOUNT_DISABLED")

    enabled = await admin_client.patch(f"{URL}/{user.id}", json={"status": "active"})
    assert enabled.json()["status"] == "active"
    back = await client.post(LOGIN, json={"email": "dana@example.com", "password": PASSWORD})
    assert back.status_code == 200

    entries = await audit_rows(db)
    assert [(e.details["before"], e.details["after"]) for e in entries] == [
        ({"status": "active"}, {"status": "disabled"}),
        ({"status": "disabled"}, {"status": "active"}),
    ]
    assert {(e.target_type, e.target_id) for e in entries} == {("web_user", str(user.id))}


async def test_link_and_unlink_a_bot_client(admin_client: httpx.AsyncClient, db: Database) -> None:
    user = await verified_user(db, "eve@example.com")
    unknown = await admin_client.patch(f"{URL}/{user.id}", json={"external_user_id": "tg_77"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    async with db.transaction() as session:
        await clients.upsert_client(session, "tg_77")

    linked = await admin_client.patch(f"{URL}/{user.id}", json={"externalUserId": "tg_77"})
    assert linked.status_code == 200, linked.text
    assert linked.json()["external_user_id"] == "tg_77"
    # The bot client now shows the login's email in the clients' list (beside its own web_ one).
    found = await admin_client.get("/api/v1/admin/clients", params={"search": "eve@example"})
    rows = found.json()["data"]
    assert [(c["external_user_id"][:3], c["email"]) for c in rows] == [
        ("tg_", "eve@example.com"),
        ("web", "eve@example.com"),
    ]

    unlinked = await admin_client.patch(f"{URL}/{user.id}", json={"external_user_id": None})
    assert unlinked.json()["external_user_id"] is None
    assert [e.details for e in await audit_rows(db)] == [
        {"before": {"external_user_id": None}, "after": {"external_user_id": "tg_77"}},
        {"before": {"external_user_id": "tg_77"}, "after": {"external_user_id": None}},
    ]


async def test_an_unverified_login_cannot_be_enabled(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        user = WebUser(email="new@example.com", password_hash="x", status="pending")
        session.add(user)
    refused = await admin_client.patch(f"{URL}/{user.id}", json={"status": "active"})
    assert (refused.status_code, refused.json()["code"]) == (409, "INVALID_STATE")
    disabled = await admin_client.patch(f"{URL}/{user.id}", json={"status": "disabled"})
    assert disabled.json()["status"] == "disabled"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "EMPTY_UPDATE"),
        ({"status": "pending"}, "INVALID_BODY"),
        ({"status": None}, "INVALID_BODY"),
        ({"external_user_id": "web_abc"}, "INVALID_BODY"),
        ({"external_user_id": "tg_0"}, "INVALID_BODY"),
    ],
)
async def test_bad_bodies(
    admin_client: httpx.AsyncClient, db: Database, body: dict[str, object], code: str
) -> None:
    user = await verified_user(db, "fay@example.com")
    response = await admin_client.patch(f"{URL}/{user.id}", json=body)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert await audit_rows(db) == []


async def test_unknown_web_user_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.patch(f"{URL}/{uuid.uuid4()}", json={"status": "disabled"})
    assert response.status_code == 404
