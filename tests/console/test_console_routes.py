"""Walk every /admin console route: signed out it sends to sign-in; every POST wants its CSRF token.

The console's twin of tests/test_admin_routes.py: a new console page must be listed here with its
access rule decided.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from paywarden.console import routers
from paywarden.kit.db import Database
from paywarden.models import AuditEntry
from tests.conftest import client_for
from tests.console.helpers import csrf_in
from tests.factories import create_operator, sign_in

# Reachable without a session: how one gets a session.
PUBLIC = {
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/login/enroll"),
}
# Who is refused (403) on each console route that refuses anyone signed in.
FORBIDDEN_FOR: dict[tuple[str, str], set[str]] = {
    ("POST", "/admin/b2b/upload"): {"operator"},
    ("POST", "/admin/b2b/groups/{group_id}/invites"): {"operator"},
    ("GET", "/admin/operators"): {"operator"},
    ("POST", "/admin/operators"): {"operator", "super_admin"},
    ("GET", "/admin/operators/{operator_id}/remove"): {"operator", "super_admin"},
    ("POST", "/admin/operators/{operator_id}/remove"): {"operator", "super_admin"},
    ("GET", "/admin/operators/{operator_id}/reset-2fa"): {"operator", "super_admin"},
    ("POST", "/admin/operators/{operator_id}/reset-2fa"): {"operator", "super_admin"},
    # catalog_pages: plans and the EUR/USD rate change only for a super_admin (as the API)
    ("GET", "/admin/plans/new"): {"operator"},
    ("POST", "/admin/plans/new"): {"operator"},
    ("GET", "/admin/plans/{plan_id}/edit"): {"operator"},
    ("POST", "/admin/plans/{plan_id}/edit"): {"operator"},
    ("POST", "/admin/plans/{plan_id}/default"): {"operator"},
    ("GET", "/admin/plans/{plan_id}/archive"): {"operator"},
    ("POST", "/admin/plans/{plan_id}/archive"): {"operator"},
    ("POST", "/admin/plans/{plan_id}/unarchive"): {"operator"},
    ("POST", "/admin/plans/fx-rate"): {"operator"},
    ("POST", "/admin/clients/{client_id}/topup"): {"operator"},
    ("POST", "/admin/clients/{client_id}/balance"): {"operator"},
    ("POST", "/admin/cards/estimates"): {"operator"},
}
# Open to every signed-in operator.
ANY_OPERATOR = {
    ("GET", "/admin/issuer-events"),
    ("POST", "/admin/issuer-events/{event_id}/replay"),
    ("GET", "/admin/b2b"),
    ("GET", "/admin/b2b/profiles"),
    ("GET", "/admin/b2b/profiles/{profile_id}/disable"),
    ("POST", "/admin/b2b/profiles/{profile_id}/disable"),
    ("POST", "/admin/b2b/profiles/{profile_id}/enable"),
    ("POST", "/admin/b2b/groups"),
    ("GET", "/admin/b2b/groups/{group_id}"),
    # catalog_pages: plans (read), banners, support settings (the APIs: any operator)
    ("GET", "/admin/plans"),
    ("GET", "/admin/banners"),
    ("POST", "/admin/banners"),
    ("POST", "/admin/banners/{banner_id}/active"),
    ("GET", "/admin/banners/{banner_id}/edit"),
    ("POST", "/admin/banners/{banner_id}/edit"),
    ("GET", "/admin/banners/{banner_id}/delete"),
    ("POST", "/admin/banners/{banner_id}/delete"),
    ("GET", "/admin/support"),
    ("POST", "/admin/support"),
    ("GET", "/admin/clients"),
    ("GET", "/admin/clients/{client_id}"),
    ("POST", "/admin/clients/{client_id}/plan"),
    ("POST", "/admin/clients/{client_id}/access"),
    ("GET", "/admin/clients/{client_id}/ban"),
    ("POST", "/admin/clients/{client_id}/ban"),
    ("POST", "/admin/clients/{client_id}/unban"),
    ("POST", "/admin/clients/{client_id}/notes"),
    ("POST", "/admin/clients/{client_id}/cards"),
    ("POST", "/admin/clients/{client_id}/cards/{card_id}/freeze"),
    ("POST", "/admin/clients/{client_id}/cards/{card_id}/unfreeze"),
    ("GET", "/admin/clients/{client_id}/cards/{card_id}/close"),
    ("POST", "/admin/clients/{client_id}/cards/{card_id}/close"),
    ("POST", "/admin/clients/{client_id}/cards/{card_id}/limit"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/language"),  # the language switch (account_pages)
    ("GET", "/admin"),
    # support_desk_pages: lookup, card transactions, web users (the APIs: any operator)
    ("GET", "/admin/lookup"),
    ("GET", "/admin/card-transactions"),
    ("GET", "/admin/web-users"),
    ("GET", "/admin/web-users.csv"),
    ("GET", "/admin/web-users/{web_user_id}/link"),
    ("POST", "/admin/web-users/{web_user_id}/link"),
    ("GET", "/admin/web-users/{web_user_id}/unlink"),
    ("POST", "/admin/web-users/{web_user_id}/unlink"),
    ("GET", "/admin/web-users/{web_user_id}/disable"),
    ("POST", "/admin/web-users/{web_user_id}/disable"),
    ("POST", "/admin/web-users/{web_user_id}/enable"),
    ("GET", "/admin/web-users/{web_user_id}/delete"),
    ("POST", "/admin/web-users/{web_user_id}/delete"),
    ("GET", "/admin/gateway"),
    ("GET", "/admin/cards"),
    ("GET", "/admin/cards/breakdown"),
    ("GET", "/admin/merchants"),
    ("GET", "/admin/merchants/new"),
    ("POST", "/admin/merchants/new"),
    ("GET", "/admin/merchants/{merchant_id}"),
    ("GET", "/admin/merchants/{merchant_id}/edit"),
    ("POST", "/admin/merchants/{merchant_id}/edit"),
    ("GET", "/admin/merchants/{merchant_id}/suspend"),
    ("POST", "/admin/merchants/{merchant_id}/suspend"),
    ("POST", "/admin/merchants/{merchant_id}/reactivate"),
    ("GET", "/admin/merchants/{merchant_id}/rotate-key"),
    ("POST", "/admin/merchants/{merchant_id}/rotate-key"),
    ("GET", "/admin/orders"),
    ("GET", "/admin/orders/{order_id}"),
    ("POST", "/admin/orders/{order_id}/retry-webhook"),
    ("POST", "/admin/orders/{order_id}/retry-sweep"),
    ("GET", "/admin/incidents"),
    ("GET", "/admin/wallet"),
    ("GET", "/admin/sessions"),
    ("GET", "/admin/sessions/{session_id}/revoke"),
    ("POST", "/admin/sessions/{session_id}/revoke"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/password"),
    ("POST", "/admin/password"),
}


def console_routes(app: FastAPI) -> set[tuple[str, str]]:
    """The console's routes (its routers are what `install_console` includes in the app)."""
    return {
        (method, route.path)
        for router in routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method != "HEAD"
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_every_console_route_is_classified(app: FastAPI) -> None:
    assert console_routes(app) == PUBLIC | set(FORBIDDEN_FOR) | ANY_OPERATOR


def test_console_is_not_in_the_api_schema(app: FastAPI) -> None:
    assert not [p for p in app.openapi()["paths"] if p == "/admin" or p.startswith("/admin/")]


async def test_signed_out_everything_goes_to_sign_in(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    for method, path in sorted(console_routes(app) - PUBLIC):
        url = concrete(path)
        response = await client.request(method, url, data={"csrf_token": "x"})
        assert response.status_code == 303, (method, path)
        expected = f"/admin/login?next={url}" if method == "GET" else "/admin/login"
        assert response.headers["location"] == expected, (method, path)
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_every_post_refuses_a_missing_or_forged_csrf_token(
    app: FastAPI, db: Database
) -> None:
    boss = await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    async with client_for(app) as client:
        await sign_in(client, boss)
        for method, path in sorted(console_routes(app)):
            if method != "POST":
                continue
            for data in ({}, {"csrf_token": "forged"}):
                response = await client.request(method, concrete(path), data=data)
                assert response.status_code == 403, (method, path, data)
                assert "did not come from this console" in response.text
        assert (await client.get("/admin")).status_code == 200  # still signed in
    async with db.transaction() as s:
        actions = list(await s.scalars(select(AuditEntry.action)))
        assert actions == ["auth.login"]


@pytest.mark.parametrize("who", ["operator", "super_admin"])
async def test_roles_are_enforced(app: FastAPI, db: Database, who: str) -> None:
    await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    op = await create_operator(db, f"{who}@example.com", role=who)
    async with client_for(app) as client:
        await sign_in(client, op)
        token = csrf_in((await client.get("/admin")).text)
        for (method, path), refused in FORBIDDEN_FOR.items():
            response = await client.request(method, concrete(path), data={"csrf_token": token})
            assert (response.status_code == 403) == (who in refused), (method, path)
            if who in refused:
                assert "Not allowed" in response.text
        nav = (await client.get("/admin")).text
        assert ('href="/admin/operators"' in nav) == (who == "super_admin")
