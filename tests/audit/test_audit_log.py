"""Every operator action writes an audit row with the change; the log is append-only."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from paywarden.kit.db import Database
from paywarden.models import AuditEntry
from tests.conftest import client_for
from tests.factories import PASSWORD, create_operator, sign_in

AUDIT = "/api/v1/admin/audit-log"


async def _actions(db: Database) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at))
        return [r.action for r in rows]


async def test_each_action_writes_a_row(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as client:
        await client.post(
            "/api/v1/admin/auth/login", json={"email": boss.email, "password": "wrong wrong wrong"}
        )
        await sign_in(client, boss)
        new = (
            await client.post(
                "/api/v1/admin/operators",
                json={"email": "w@example.com", "password": "twelve chars min"},
            )
        ).json()
        await client.post(f"/api/v1/admin/operators/{new['id']}/reset-2fa")
        await client.delete(f"/api/v1/admin/operators/{new['id']}")
        await client.post(
            "/api/v1/admin/auth/password",
            json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        )
        sessions = (await client.get("/api/v1/admin/sessions")).json()["data"]
        await client.post("/api/v1/admin/auth/logout")
    assert len(sessions) == 1
    assert await _actions(db) == [
        "auth.login_failed",
        "auth.login",
        "operator.create",
        "operator.reset_2fa",
        "operator.delete",
        "auth.password_change",
        "auth.logout",
    ]


async def test_rows_carry_who_what_where_and_no_secret(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app, ip="192.0.2.7") as client:
        await sign_in(client, boss)
        created = (
            await client.post(
                "/api/v1/admin/operators",
                json={"email": "w@example.com", "password": "twelve chars min"},
                headers={"User-Agent": "pytest-agent"},
            )
        ).json()
        page = (await client.get(AUDIT, params={"action": "operator.create"})).json()
    entry = page["data"][0]
    assert entry["operator_id"] == str(boss.operator.id)
    assert entry["actor"] == "boss@example.com"
    assert entry["target_type"] == "operator"
    assert entry["target_id"] == created["id"]
    assert entry["details"] == {"email": "w@example.com", "role": "operator", "restored": False}
    assert entry["ip"] == "192.0.2.7"
    assert entry["user_agent"] == "pytest-agent"
    assert entry["created_at"].endswith("Z")
    async with db.transaction() as session:
        every = " ".join(str(r.details) for r in await session.scalars(select(AuditEntry)))
    assert "twelve chars min" not in every
    assert PASSWORD not in every


async def test_filters_paging_and_newest_first(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as client:
        await sign_in(client, boss)
        for i in range(5):
            await client.post(
                "/api/v1/admin/operators",
                json={"email": f"p{i}@example.com", "password": "twelve chars min"},
            )
        first = (await client.get(AUDIT, params={"limit": 2})).json()
        assert first["pagination"] == {"page": 1, "limit": 2, "total": 6, "total_pages": 3}
        assert [e["details"].get("email") for e in first["data"]] == [
            "p4@example.com",
            "p3@example.com",
        ]
        last = (await client.get(AUDIT, params={"limit": 2, "page": 3})).json()
        assert [e["action"] for e in last["data"]] == ["operator.create", "auth.login"]
        mine = (
            await client.get(
                AUDIT, params={"operatorId": str(boss.operator.id), "action": "auth.login"}
            )
        ).json()
        assert mine["pagination"]["total"] == 1
        target = first["data"][0]["target_id"]
        by_target = (
            await client.get(AUDIT, params={"target_type": "operator", "target_id": target})
        ).json()
        assert [e["target_id"] for e in by_target["data"]] == [target]
        newest = first["data"][0]["created_at"]
        window = (await client.get(AUDIT, params={"from": newest, "to": newest})).json()
        assert window["pagination"]["total"] >= 1
        future = (await client.get(AUDIT, params={"from": "2999-01-01T00:00:00Z"})).json()
        assert future["data"] == []
        assert future["pagination"]["total_pages"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"operator_id": "nope"},
        {"from": "yesterday"},
    ],
)
async def test_bad_query_is_invalid_query(
    app: FastAPI, db: Database, params: dict[str, str]
) -> None:
    op = await create_operator(db)
    async with client_for(app) as client:
        await sign_in(client, op)
        response = await client.get(AUDIT, params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_QUERY"


async def test_the_database_refuses_updates_and_deletes(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as client:
        await sign_in(client, op)
    for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(statement)
    assert await _actions(db) == ["auth.login"]
