"""Walk every /api/v1/admin route: none answers without a cookie, and roles are enforced."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from paywarden.kit.db import Database
from tests.conftest import client_for
from tests.factories import create_operator, sign_in

# Reachable without a session: they are how one gets a session.
PUBLIC = {
    ("POST", "/api/v1/admin/auth/bootstrap"),
    ("POST", "/api/v1/admin/auth/login"),
    ("POST", "/api/v1/admin/auth/totp/enroll"),
}
# Who is refused (403) on each route that refuses anyone signed in.
FORBIDDEN_FOR = {
    ("GET", "/api/v1/admin/operators"): {"operator"},
    ("POST", "/api/v1/admin/operators"): {"operator", "super_admin"},
    ("DELETE", "/api/v1/admin/operators/{operator_id}"): {"operator", "super_admin"},
    ("POST", "/api/v1/admin/operators/{operator_id}/reset-2fa"): {"operator", "super_admin"},
    # Prices and the rate are what clients pay: a super_admin sets them.
    ("POST", "/api/v1/admin/plans"): {"operator"},
    ("PUT", "/api/v1/admin/plans/{plan_id}"): {"operator"},
    ("PUT", "/api/v1/admin/fx-rate"): {"operator"},
    # Manual top-ups and demo balances move money: a super_admin makes them.
    ("POST", "/api/v1/admin/clients/{client_id}/topup"): {"operator"},
    ("POST", "/api/v1/admin/clients/{client_id}/balance"): {"operator"},
    # B2B profiles carry issuer credentials: uploading them and inviting clients to take them
    # is a super_admin's.
    ("POST", "/api/v1/admin/b2b-profiles"): {"operator"},
    ("POST", "/api/v1/admin/b2b-groups/{group_id}/invites"): {"operator"},
    # The operators' treasury estimates drive the runway and its alert: a super_admin sets them.
    ("PUT", "/api/v1/admin/analytics/estimates"): {"operator"},
}
# Open to every signed-in operator.
ANY_OPERATOR = {
    # The issuer inbox: reading it and replaying a failed event are support work (a replay is
    # one more attempt at an idempotent handler, audited).
    ("GET", "/api/v1/admin/issuer-events"),
    ("GET", "/api/v1/admin/issuer-events/stats"),
    ("POST", "/api/v1/admin/issuer-events/{event_id}/replay"),
    # The B2B pool: reading it and housekeeping (groups, disabling, regrouping), audited.
    ("GET", "/api/v1/admin/b2b-profiles"),
    ("GET", "/api/v1/admin/b2b-profiles/stats"),
    ("PATCH", "/api/v1/admin/b2b-profiles/{profile_id}"),
    ("GET", "/api/v1/admin/b2b-groups"),
    ("POST", "/api/v1/admin/b2b-groups"),
    ("GET", "/api/v1/admin/b2b-groups/{group_id}/invites"),
    # Card transactions for support and anti-fraud: reading only.
    ("GET", "/api/v1/admin/card-transactions"),
    ("GET", "/api/v1/admin/card-transactions/breakdown"),
    # The cards overview, its daily series, the treasury estimates and runway: reading only.
    ("GET", "/api/v1/admin/analytics/overview"),
    ("GET", "/api/v1/admin/analytics/daily"),
    ("GET", "/api/v1/admin/analytics/estimates"),
    ("GET", "/api/v1/admin/analytics/estimates/history"),
    ("POST", "/api/v1/admin/auth/logout"),
    ("GET", "/api/v1/admin/auth/me"),
    ("POST", "/api/v1/admin/auth/password"),
    ("GET", "/api/v1/admin/sessions"),
    ("DELETE", "/api/v1/admin/sessions/{session_id}"),
    ("GET", "/api/v1/admin/audit-log"),
    ("GET", "/api/v1/admin/stats"),
    ("GET", "/api/v1/admin/stats/daily"),
    ("GET", "/api/v1/admin/incidents"),
    ("GET", "/api/v1/admin/wallet"),
    ("GET", "/api/v1/admin/merchants"),
    ("POST", "/api/v1/admin/merchants"),
    ("GET", "/api/v1/admin/merchants/{merchant_id}"),
    ("PUT", "/api/v1/admin/merchants/{merchant_id}"),
    ("POST", "/api/v1/admin/merchants/{merchant_id}/rotate-api-key"),
    ("GET", "/api/v1/admin/orders"),
    ("GET", "/api/v1/admin/orders/{order_id}"),
    ("POST", "/api/v1/admin/orders/{order_id}/retry-webhook"),
    ("POST", "/api/v1/admin/orders/{order_id}/retry-sweep"),
    ("GET", "/api/v1/admin/plans"),
    ("GET", "/api/v1/admin/fx-rate"),
    ("GET", "/api/v1/admin/support-settings"),
    ("PUT", "/api/v1/admin/support-settings"),
    # Web sign-ups: reading and removing a login are support work, as the seed's Web users tab.
    ("GET", "/api/v1/admin/web-users"),
    ("DELETE", "/api/v1/admin/web-users/{web_user_id}"),
    ("PATCH", "/api/v1/admin/web-users/{web_user_id}"),
    # Clients: reading, access, notes and the plan are support work.
    ("GET", "/api/v1/admin/clients"),
    ("GET", "/api/v1/admin/clients/{client_id}"),
    ("PATCH", "/api/v1/admin/clients/{client_id}"),
    ("POST", "/api/v1/admin/clients/{client_id}/plan"),
    ("GET", "/api/v1/admin/clients/{client_id}/ledger"),
    # What the bot told the client (the client page's notifications).
    ("GET", "/api/v1/admin/clients/{client_id}/notifications"),
    # Cards: listing, issuing for a client and the lifecycle are support work (audited).
    ("GET", "/api/v1/admin/clients/{client_id}/cards"),
    ("POST", "/api/v1/admin/clients/{client_id}/cards"),
    ("POST", "/api/v1/admin/cards/{card_id}/freeze"),
    ("POST", "/api/v1/admin/cards/{card_id}/unfreeze"),
    ("POST", "/api/v1/admin/cards/{card_id}/close"),
    ("PATCH", "/api/v1/admin/cards/{card_id}"),
    ("GET", "/api/v1/admin/lookup"),
    # Partner ads: content work, as the seed's Partner ads tab; every change audited.
    ("GET", "/api/v1/admin/banners"),
    ("POST", "/api/v1/admin/banners"),
    ("PUT", "/api/v1/admin/banners/{banner_id}"),
    ("DELETE", "/api/v1/admin/banners/{banner_id}"),
}


def admin_routes(app: FastAPI) -> set[tuple[str, str]]:
    # The OpenAPI document lists every route with its methods, through included routers too.
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/admin")
        for method in operations
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_every_admin_route_is_classified(app: FastAPI) -> None:
    # A new route must be added to one of the tables above, with its access rule decided.
    assert admin_routes(app) == PUBLIC | set(FORBIDDEN_FOR) | ANY_OPERATOR


async def test_no_cookie_is_admin_unauthorized_everywhere(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    for method, path in sorted(admin_routes(app) - PUBLIC):
        response = await client.request(method, concrete(path), json={})
        assert response.status_code == 401, (method, path)
        assert response.json() == {"error": "Sign-in required", "code": "ADMIN_UNAUTHORIZED"}


@pytest.mark.parametrize("who", ["operator", "super_admin"])
async def test_roles_are_enforced(app: FastAPI, db: Database, who: str) -> None:
    await create_operator(db, "boss@example.com", role="super_admin", primary=True)
    op = await create_operator(db, f"{who}@example.com", role=who)
    async with client_for(app) as client:
        await sign_in(client, op)
        for (method, path), refused in FORBIDDEN_FOR.items():
            response = await client.request(method, concrete(path), json={})
            if who in refused:
                assert response.status_code == 403, (method, path)
                assert response.json()["code"] == "FORBIDDEN"
            else:
                assert response.status_code != 403, (method, path)
