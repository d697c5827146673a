"""Operators in the console: super_admins read; the primary adds, removes and resets 2FA."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Operator
from tests.conftest import client_for
from tests.console.helpers import post_form
from tests.factories import create_operator, sign_in


async def _actions(db: Database) -> list[str]:
    async with db.transaction() as s:
        rows = await s.scalars(select(AuditEntry.action).where(AuditEntry.action != "auth.login"))
        return list(rows)


async def test_primary_adds_resets_and_removes(app: FastAPI, db: Database) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as c:
        await sign_in(c, boss)
        page = (await c.get("/admin/operators")).text
        assert "Extra admins only from the primary account in .env" in page
        assert 'id="operator-form"' in page

        bad = await post_form(
            c, "/admin/operators", "/admin/operators", {"email": "nope", "password": "short"}
        )
        assert bad.status_code == 400
        assert 'id="email-error"' in bad.text
        assert 'id="password-error"' in bad.text
        taken = await post_form(
            c,
            "/admin/operators",
            "/admin/operators",
            {"email": "boss@example.com", "password": "p" * 12},
        )
        assert taken.status_code == 409

        added = await post_form(
            c,
            "/admin/operators",
            "/admin/operators",
            {"email": "new@example.com", "password": "p" * 12, "role": "super_admin"},
        )
        assert added.status_code == 303
        page = (await c.get(added.headers["location"])).text
        assert "The operator is added." in page
        assert "new@example.com" in page
        async with db.transaction() as s:
            new = await s.scalar(select(Operator).where(Operator.email == "new@example.com"))
            assert new is not None
            assert new.role == "super_admin"
            assert not new.totp_enabled

        reset = f"/admin/operators/{boss.operator.id}/reset-2fa"
        assert "Reset 2FA of boss@example.com?" in (await c.get(reset)).text
        remove = f"/admin/operators/{new.id}/remove"
        assert "Remove new@example.com?" in (await c.get(remove)).text
        response = await post_form(c, remove, remove)
        assert response.status_code == 303
        assert "new@example.com" not in (await c.get("/admin/operators")).text.split("<tbody>")[1]

        # The primary cannot be removed (the service refuses it).
        primary = f"/admin/operators/{boss.operator.id}/remove"
        refused = await post_form(c, reset, primary)
        assert refused.status_code == 409
        assert "primary operator cannot be deleted" in refused.text

        response = await post_form(c, reset, reset)
        assert response.status_code == 303
        assert (await c.get("/admin")).status_code == 303  # own sessions ended with the 2FA
    assert await _actions(db) == ["operator.create", "operator.delete", "operator.reset_2fa"]


async def test_a_super_admin_reads_but_does_not_manage(app: FastAPI, db: Database) -> None:
    await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    admin = await create_operator(db, "admin@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, admin)
        page = (await c.get("/admin/operators")).text
        assert "boss@example.com" in page
        assert 'id="operator-form"' not in page
        assert "/reset-2fa" not in page
        assert "/remove" not in page
