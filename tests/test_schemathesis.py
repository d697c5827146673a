"""Fuzz the merchant, admin and web sign-up APIs from their OpenAPI document (schemathesis).

Every generated request, valid or not, must get an answer the document describes: never a 500,
and only documented statuses, content types, headers and bodies. Bounded and derandomized, so a
run is short and a failure reproduces.

How it is wired, and why:
- The document comes from an app that is built here but never started (serving /openapi.json
  needs no database). Schemathesis makes one test per operation from it at collection time.
  (`schemathesis.pytest.from_fixture` would load it from a fixture instead, but 4.32 reads
  `Node._nodeid`, which pytest 9.2 no longer has.)
- Each test gets its own database and a started app: schemathesis runs the app's lifespan in its
  own event-loop thread when the first call reaches it, and its pytest plugin ends it when the
  test ends. The data is made before, by a second instance of the app over the same database in
  its own `asyncio.run`, so nothing is shared across event loops.
- A random id in a path is nearly always a 404, so path parameters sometimes name a row the test
  made instead (a second operator, their session, the merchant, its order): the success answers
  and the conflicts (409) of those operations are checked too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.operators.tokens import COOKIE_NAME
from tests.conftest import TEST_XPUB, client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in

MERCHANT_API = "/api/v1/payments"
# They sign in, out or change the password: fuzzing them would end the session the others use.
AUTH_STATE = r"^/api/v1/admin/auth/(bootstrap|login|totp/enroll|logout|password)$"
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The app's OpenAPI document; the database URL is never opened."""
    document_only = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="development",
        database_url="sqlite+aiosqlite://",
        secret_key="openapi-document-only-" + "x" * 32,
        xpub=TEST_XPUB,
        log_level="WARNING",
    )
    return create_app(document_only).openapi()


DOCUMENT = _document()
schema = (
    schemathesis.openapi.from_dict(DOCUMENT)
    .include(path_regex=rf"^({MERCHANT_API}|/api/v1/admin/|/api/botcartd/web/)")
    .exclude(path_regex=AUTH_STATE)
)


# Path parameter name -> id of a row the running test made.
EXISTING: dict[str, str] = {}


@schema.hook
def flatmap_path_parameters(_: schemathesis.HookContext, params: dict[str, Any]) -> Any:
    """The generated parameters, or the same naming rows that exist."""
    existing = {name: EXISTING[name] for name in params or {} if name in EXISTING}
    return st.sampled_from([params, {**params, **existing}]) if existing else st.just(params)


@dataclass(frozen=True)
class Target:
    app: FastAPI
    admin_token: str
    api_key: str

    def call_kwargs(self, path: str) -> dict[str, Any]:
        """The app, and the merchant's key or the operator's cookie, by API."""
        if path.startswith(MERCHANT_API):
            return {"app": self.app, "headers": {"X-API-Key": self.api_key}}
        return {"app": self.app, "cookies": {COOKIE_NAME: self.admin_token}}


async def _seed(app_settings: Settings) -> tuple[str, str, dict[str, str]]:
    """A signed-in primary super_admin's cookie, a merchant's API key, and ids of existing rows."""
    app, lifespan = await start_app(app_settings)
    try:
        db = app.state.db
        admin = await create_operator(db, "fuzz@example.com", role="super_admin", primary=True)
        other = await create_operator(db, "other@example.com")
        merchant = await create_merchant(db)
        async with client_for(app) as client, client_for(app) as other_client:
            await sign_in(client, admin)
            await sign_in(other_client, other)
            order = await create_payment(client, merchant)
            sessions = (await client.get("/api/v1/admin/sessions")).json()["data"]
            admin_token = client.cookies[COOKIE_NAME]
    finally:
        await lifespan.__aexit__(None, None, None)
    other_id = str(other.operator.id)
    existing = {
        "operator_id": other_id,
        "session_id": next(s["id"] for s in sessions if s["operator_id"] == other_id),
        "merchant_id": str(merchant.merchant.id),
        "order_id": str(order["id"]),
    }
    return admin_token, merchant.api_key, existing


@pytest.fixture
def target(make_settings: Callable[..., Settings]) -> Iterator[Target]:
    # A merchant rate limit the fuzzer never reaches, so merchant calls are checked, not refused.
    app_settings = make_settings(merchant_rate_limit="100000/minute")
    admin_token, api_key, existing = asyncio.run(_seed(app_settings))
    EXISTING.update(existing)
    yield Target(create_app(app_settings), admin_token, api_key)
    EXISTING.clear()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # One app and database per operation, shared by its examples on purpose; and generation
    # time depends on the machine's load, not on the code.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_as_documented(case: schemathesis.Case, target: Target) -> None:
    case.call_and_validate(checks=CHECKS, **target.call_kwargs(case.path))


def _errors(method: str, path: str) -> set[str]:
    responses = DOCUMENT["paths"][path][method]["responses"]
    return {status for status in responses if status.startswith("4")}


def test_document_lists_error_answers_not_fastapis_422() -> None:
    assert '"422"' not in json.dumps(DOCUMENT)
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]
    assert _errors("post", "/api/v1/payments") == {"400", "401", "403", "409", "429"}
    assert _errors("get", "/api/v1/admin/merchants/{merchant_id}") == {"401", "403", "404"}
    assert _errors("get", "/api/v1/admin/orders") == {"400", "401", "403"}
    assert _errors("post", "/api/v1/admin/auth/login") == {"400", "401", "429"}
    limited = DOCUMENT["paths"]["/api/v1/payments"]["get"]["responses"]["429"]
    assert "Retry-After" in limited["headers"]
    assert limited["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
