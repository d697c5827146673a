"""Sessions, the audit log and changing one's password, in the console."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.audit.context import Actor
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, OperatorSession
from tests.conftest import client_for
from tests.console.helpers import console_sign_in, csrf_for, post_form
from tests.factories import create_operator, sign_in


async def test_sessions_list_and_revoke_another(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as phone, client_for(app, "10.0.0.7") as laptop:
        await console_sign_in(phone, op)
        await console_sign_in(laptop, op, step=1)
        page = (await phone.get("/admin/sessions")).text
        assert page.count("/revoke") == 2
        assert "this session" in page
        assert "10.0.0.7" in page
        laptop_id = re.search(r'id="session-([0-9a-f-]+)">\s*<td><code>10\.0\.0\.7', page)
        assert laptop_id

        confirm = await phone.get(f"/admin/sessions/{laptop_id.group(1)}/revoke")
        assert "Revoke this session?" in confirm.text
        response = await post_form(
            phone,
            f"/admin/sessions/{laptop_id.group(1)}/revoke",
            f"/admin/sessions/{laptop_id.group(1)}/revoke",
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/sessions?done=revoked"
        assert (await laptop.get("/admin")).status_code == 303
        assert "10.0.0.7" not in (await phone.get("/admin/sessions")).text

        # Revoking one's own session signs out.
        mine = re.search(
            r"/admin/sessions/([0-9a-f-]+)/revoke", (await phone.get("/admin/sessions")).text
        )
        assert mine
        own = f"/admin/sessions/{mine.group(1)}/revoke"
        assert "you will be signed out" in (await phone.get(own)).text
        response = await post_form(phone, own, own)
        assert response.headers["location"] == "/admin/login?signed_out=1"
        assert (await phone.get("/admin")).status_code == 303
    async with db.transaction() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.action == "session.revoke"))
        assert len(list(rows)) == 2


async def test_only_the_primary_sees_and_revokes_others_sessions(
    app: FastAPI, db: Database
) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    op = await create_operator(db, "op@example.com")
    async with client_for(app) as b, client_for(app) as o:
        await sign_in(b, boss)
        await sign_in(o, op)
        assert "op@example.com" in (await b.get("/admin/sessions")).text
        op_page = (await o.get("/admin/sessions")).text
        assert "boss@example.com" not in op_page.split('id="sessions"', 1)[1]
        async with db.transaction() as s:
            boss_session = await s.scalar(
                select(OperatorSession.id).where(OperatorSession.operator_id == boss.operator.id)
            )
        path = f"/admin/sessions/{boss_session}/revoke"
        token = await csrf_for(o, "/admin/sessions")
        response = await o.post(path, data={"csrf_token": token})
        assert response.status_code == 404  # not the operator's to see
        assert (await b.get("/admin")).status_code == 200


async def test_session_revoke_needs_the_csrf_token(admin_client: httpx.AsyncClient) -> None:
    page = (await admin_client.get("/admin/sessions")).text
    sid = re.search(r"/admin/sessions/([0-9a-f-]+)/revoke", page)
    assert sid
    response = await admin_client.post(f"/admin/sessions/{sid.group(1)}/revoke", data={})
    assert response.status_code == 403
    assert (await admin_client.get("/admin")).status_code == 200


async def _log(db: Database, n: int, action: str, who: Actor, *, days_ago: int = 0) -> None:
    """Write `n` entries (the log is append-only, so an old one is written old)."""
    async with db.transaction() as s:
        for i in range(n):
            s.add(
                AuditEntry(
                    operator_id=who.operator_id,
                    actor=who.label,
                    action=action,
                    target_type="merchant",
                    target_id=f"m-{i}",
                    details={},
                    created_at=utcnow() - timedelta(days=days_ago, seconds=n - i),
                )
            )


async def test_audit_log_filters_and_pages(admin_client: httpx.AsyncClient, db: Database) -> None:
    other = await create_operator(db, "other@example.com")
    await _log(db, 3, "merchant.update", Actor(other.email, other.operator.id), days_ago=10)
    await _log(db, 60, "merchant.create", Actor("cli"))

    page = (await admin_client.get("/admin/audit")).text
    assert "Filters are optional; newest first." in page
    assert "64 entries." in page  # with the admin client's own sign-in
    assert "Page 1 of 2" in page
    actions = re.findall(r'<code class="action">([a-z_.]+)</code>', page)
    assert actions[:2] == ["auth.login", "merchant.create"]  # newest first
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older
    page2 = (await admin_client.get(older.group(1).replace("&amp;", "&"))).text
    assert "Page 2 of 2" in page2
    assert page2.count('<code class="action">') == 14

    by_op = (await admin_client.get(f"/admin/audit?operator_id={other.operator.id}")).text
    assert by_op.count('<code class="action">merchant.update</code>') == 3
    assert "3 entries." in by_op

    by_action = await admin_client.get("/admin/audit?action=auth.login")
    assert "1 entry." in by_action.text

    day = (utcnow() - timedelta(days=10)).date().isoformat()
    dated = (await admin_client.get(f"/admin/audit?from={day}&to={day}")).text
    assert "3 entries." in dated
    kept = (await admin_client.get("/admin/audit?action=merchant.create&page=1")).text
    assert "action=merchant.create" in kept  # filters stay in the pager's links

    none = (await admin_client.get("/admin/audit?action=nothing.such")).text
    assert "Nothing matches these filters." in none
    bad = await admin_client.get("/admin/audit?from=yesterday&operator_id=x&page=-4")
    assert bad.status_code == 200
    assert "“From” must be a date." in bad.text
    assert "Unknown operator." in bad.text


async def test_audit_log_uses_htmx_from_the_package(admin_client: httpx.AsyncClient) -> None:
    page = (await admin_client.get("/admin/audit")).text
    assert 'hx-get="/admin/audit"' in page
    script = await admin_client.get("/admin/static/htmx/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]
    css = await admin_client.get("/admin/static/console.css")
    assert css.status_code == 200
    assert ":focus-visible" in css.text


async def test_change_password(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as c, client_for(app) as elsewhere:
        await console_sign_in(c, op)
        await console_sign_in(elsewhere, op, step=1)
        form = {"current_password": op.password, "new_password": "a" * 12}
        r = await post_form(
            c, "/admin/password", "/admin/password", {**form, "confirm_password": "b" * 12}
        )
        assert r.status_code == 400
        assert "The new passwords differ." in r.text
        short = {
            "current_password": op.password,
            "new_password": "short",
            "confirm_password": "short",
        }
        r = await post_form(c, "/admin/password", "/admin/password", short)
        assert r.status_code == 400
        assert "at least 12 characters" in r.text
        wrong = {"current_password": "nope", "new_password": "n" * 14, "confirm_password": "n" * 14}
        r = await post_form(c, "/admin/password", "/admin/password", wrong)
        assert r.status_code == 401
        assert "The current password is wrong." in r.text
        good = {
            "current_password": op.password,
            "new_password": "n" * 14,
            "confirm_password": "n" * 14,
        }
        r = await post_form(c, "/admin/password", "/admin/password", good)
        assert r.status_code == 200
        assert "Your password is changed. 1 other session ended." in r.text
        assert (await elsewhere.get("/admin")).status_code == 303
        assert (await c.get("/admin")).status_code == 200
        refused = await c.post("/admin/password", data=good)
        assert refused.status_code == 403
    async with db.transaction() as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("auth.password%"))
            )
        )
        assert sorted(actions) == ["auth.password_change", "auth.password_change_failed"]
