"""The OpenAPI document, completed with the error answers the API really gives.

FastAPI documents only the success answer of each route and a 422 "Validation Error" that this app
never sends (kit/errors.py renders validation failures as 400 `{"error", "code"}`). Clients and
schema-driven tests (tests/test_schemathesis.py) need every status an operation can answer, so
this generator drops the 422s and adds the error statuses from a few rules on the path, the method
and the parameters, each answering the one `Error` schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "Human-readable message"},
        "code": {"type": "string", "description": "Machine code, e.g. NOT_FOUND"},
    },
    "required": ["error", "code"],
}
DESCRIPTIONS = {
    400: "Invalid request: INVALID_BODY, INVALID_QUERY, VALIDATION_ERROR or EMPTY_UPDATE",
    401: "Not signed in, or the credentials are wrong (ADMIN_UNAUTHORIZED, INVALID_API_KEY, ...)",
    403: "Signed in, but not allowed (FORBIDDEN, MERCHANT_SUSPENDED)",
    404: "No such resource (NOT_FOUND)",
    409: "Conflicts with the current state (INVALID_STATE, SWEEP_DISABLED, *_TAKEN, ...)",
    429: "Too many requests (RATE_LIMITED); retry after `Retry-After` seconds",
    503: "Temporarily unavailable (EMAIL_UNAVAILABLE)",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
}

API = "/api/"
ADMIN = "/api/v1/admin/"
AUTH = "/api/v1/admin/auth/"
MERCHANT = "/api/v1/payments"
# Sign-in routes: anyone may call them, so no 403; they are rate limited per address and account.
PUBLIC_AUTH = {AUTH + "bootstrap", AUTH + "login", AUTH + "totp/enroll"}
SIGN_IN_LIMITED = PUBLIC_AUTH | {AUTH + "password"}
# What the rules cannot see: bootstrap is 404 without a bootstrap token, 409 once someone exists.
# Web sign-ups (client API): mail may be unavailable, sign-up and sign-in are rate limited.
WEB = "/api/botcartd/web/"
EXTRA: dict[tuple[str, str], set[int]] = {
    ("post", AUTH + "bootstrap"): {404, 409},
    ("post", WEB + "signup"): {429, 503},
    ("get", WEB + "verify"): {403},
    ("post", WEB + "login"): {401, 403, 429},
}
WRITES = {"post", "put", "patch", "delete"}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses one operation can answer, from its path, method and inputs."""
    where = {p.get("in") for p in operation.get("parameters", [])}
    statuses = set(EXTRA.get((method, path), set()))
    if "requestBody" in operation or where - {"path"}:
        statuses.add(400)  # body, query or header validation; a bad path parameter is a 404
    if path.startswith((ADMIN, MERCHANT)):
        statuses.add(401)
        if path not in PUBLIC_AUTH:
            statuses.add(403)
    if "path" in where:
        statuses.add(404)
    if method in WRITES and path.startswith(API) and not path.startswith(AUTH):
        statuses.add(409)  # a write that the current state forbids (INVALID_STATE, *_TAKEN, ...)
    if path.startswith(MERCHANT) or path in SIGN_IN_LIMITED:
        statuses.add(429)
    return statuses


def error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if status == 429:
        response["headers"] = RETRY_AFTER
    return response


def build_schema(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(error_statuses(path, method, operation)):
                responses.setdefault(str(status), error_response(status))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION:  # referenced only by the 422s removed above
        components.pop(name, None)
    components["Error"] = ERROR_SCHEMA
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve `build_schema(app)` at /openapi.json, built once on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
