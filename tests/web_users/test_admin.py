"""Admin API for web sign-ups: the list (JSON and streamed CSV) and deleting a login."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, Client, WebUser, WebUserSession
from tests.web_users.conftest import PASSWORD, signup, signup_verified
from tests.web_users.smtp_receiver import SmtpReceiver


async def create_web_user(db: Database, email: str, **values: object) -> WebUser:
    async with db.transaction() as session:
        user = WebUser(**{"email": email, "password_hash": "x", "status": "pending", **values})
        session.add(user)
    return user


async def test_list_filters_searches_and_pages(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup_verified(client, mailbox, "active@example.com")
    await signup(client, "pending@example.com")
    base = utcnow() - timedelta(days=1)
    linked = await create_web_user(
        db, "linked@example.com", status="disabled", external_user_id="tg_42", created_at=base
    )

    response = await admin_client.get("/api/v1/admin/web-users")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3, "total_pages": 1}
    assert [u["email"] for u in body["data"]] == [
        "pending@example.com",
        "active@example.com",
        "linked@example.com",
    ]
    active = body["data"][1]
    assert active["status"] == "active"
    assert active["client_id"] is not None
    assert active["email_verified_at"].endswith("Z")
    assert set(active) == {
        "id",
        "email",
        "status",
        "external_user_id",
        "client_id",
        "email_verified_at",
        "created_at",
        "last_login_at",
    }

    async def emails(**params: object) -> list[str]:
        r = await admin_client.get("/api/v1/admin/web-users", params=params)
        assert r.status_code == 200, r.text
        return [u["email"] for u in r.json()["data"]]

    assert await emails(status="active") == ["active@example.com"]
    assert await emails(search="PENDING") == ["pending@example.com"]
    assert await emails(search="tg_42") == ["linked@example.com"]
    assert await emails(search=str(linked.id)) == ["linked@example.com"]
    assert await emails(search=str(active["client_id"])) == ["active@example.com"]
    assert await emails(search="%") == []  # LIKE wildcards are literal
    assert await emails(page=2, limit=2) == ["linked@example.com"]
    bad = await admin_client.get("/api/v1/admin/web-users", params={"status": "nope"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_QUERY"


async def test_csv_streams_every_row_with_a_header_and_defused_formulas(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    start = utcnow() - timedelta(days=1)
    for i in range(130):  # more than one chunk
        await create_web_user(db, f"u{i:03d}@example.com", created_at=start + timedelta(seconds=i))
    await create_web_user(db, "=cmd@example.com", external_user_id="+SUM(A1)")
    await create_web_user(db, "-x@example.com", external_user_id="@evil")

    response = await admin_client.get("/api/v1/admin/web-users", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "id",
        "email",
        "status",
        "external_user_id",
        "client_id",
        "email_verified_at",
        "created_at",
        "last_login_at",
    ]
    assert len(rows) == 1 + 132
    assert len({r[0] for r in rows[1:]}) == 132
    by_email = {r[1]: r for r in rows[1:]}
    assert "'=cmd@example.com" in by_email
    assert by_email["'=cmd@example.com"][3] == "'+SUM(A1)"
    assert by_email["'-x@example.com"][3] == "'@evil"
    assert by_email["u000@example.com"][2] == "pending"

    # Filters apply to the CSV too.
    only = await admin_client.get(
        "/api/v1/admin/web-users", params={"format": "csv", "search": "u129"}
    )
    assert [r[1] for r in csv.reader(io.StringIO(only.text))][1:] == ["u129@example.com"]


async def test_delete_removes_the_login_keeps_the_client_and_is_audited(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, mailbox: SmtpReceiver
) -> None:
    await signup_verified(client, mailbox, "gone@example.com")
    signed = await client.post(
        "/api/botcartd/web/login", json={"email": "gone@example.com", "password": PASSWORD}
    )
    assert signed.status_code == 200
    client_id = signed.json()["client_id"]
    async with db.transaction() as session:
        user = await session.scalar(select(WebUser))
    assert user is not None

    response = await admin_client.delete(f"/api/v1/admin/web-users/{user.id}")
    assert response.status_code == 204
    assert response.content == b""
    async with db.transaction() as session:
        assert await session.get(WebUser, user.id) is None
        assert await session.scalar(select(WebUserSession)) is None
        assert await session.get(Client, uuid.UUID(client_id)) is not None
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "web_user.delete")
        )
    assert entry is not None
    assert (entry.target_type, entry.target_id) == ("web_user", str(user.id))
    assert entry.operator_id is not None
    assert entry.details["email"] == "gone@example.com"
    assert entry.details["client_id"] == client_id

    again = await admin_client.delete(f"/api/v1/admin/web-users/{user.id}")
    assert again.status_code == 404
    assert again.json()["code"] == "NOT_FOUND"
    # The login is gone: signing in fails like an unknown email, and the email is free again.
    login = await client.post(
        "/api/botcartd/web/login", json={"email": "gone@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401
    await signup(client, "gone@example.com")


async def test_admin_routes_need_an_operator(client: httpx.AsyncClient) -> None:
    listed = await client.get("/api/v1/admin/web-users", params={"format": "csv"})
    assert listed.status_code == 401
    deleted = await client.delete(f"/api/v1/admin/web-users/{uuid.uuid4()}")
    assert deleted.status_code == 401
