"""One error type for the whole app: an HTTP status, a machine code and a human message.

Services raise these; one handler renders them as `{"error": ..., "code": ...}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from paywarden.kit.headers import SECURITY_HEADERS
from paywarden.kit.logging import get_logger

log = get_logger(__name__)


class AppError(Exception):
    status: int = 400
    code: str = "BAD_REQUEST"
    message: str = "Bad request"
    # Writes made before the error are committed anyway (e.g. the audit row of a failed sign-in).
    keep_changes: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    message = "Not found"


class InvalidBody(AppError):
    code = "INVALID_BODY"
    message = "Invalid request body"


class PayloadTooLarge(AppError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "The request body is too large"


class InvalidQuery(AppError):
    code = "INVALID_QUERY"
    message = "Invalid query parameters"


class ValidationFailed(AppError):
    code = "VALIDATION_ERROR"
    message = "Validation failed"


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    message = "Not allowed for your role"


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    message = "Conflict"


class RateLimited(AppError):
    status = 429
    code = "RATE_LIMITED"
    message = "Too many requests, try again later"
    keep_changes = True


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


def _describe(errors: list[Any]) -> str:
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc)
    msg = first.get("msg", "invalid")
    return f"{field}: {msg}" if field else str(msg)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(error_body(exc.message, exc.code), exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    where = errors[0]["loc"][0] if errors and errors[0].get("loc") else "body"
    if where == "path":
        return JSONResponse(error_body("Not found", "NOT_FOUND"), 404)
    err: AppError = InvalidQuery() if where == "query" else InvalidBody()
    return JSONResponse(error_body(f"{err.message}: {_describe(errors)}", err.code), 400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    code = codes.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return JSONResponse(error_body(message, code), exc.status_code, headers=exc.headers)


async def _pool_timeout(_: Request, exc: Exception) -> JSONResponse:
    # Overload, not a fault: every pooled connection stayed busy for DB_POOL_TIMEOUT seconds.
    log.warning("database_pool_exhausted")
    body = error_body("Busy: no database connection came free in time; retry", "SERVICE_BUSY")
    return JSONResponse(body, 503, headers={"Retry-After": "1"})


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    # Sent by Starlette's outermost middleware, past SecurityHeadersMiddleware: add them here.
    return JSONResponse(
        error_body("Internal server error", "INTERNAL_ERROR"), 500, headers=SECURITY_HEADERS
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(Exception, _unhandled)
