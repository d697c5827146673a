"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from paywarden.kit.errors import error_body
from paywarden.kit.logging import get_logger
from paywarden.kit.migrations import current_revision, head_revision

router = APIRouter(tags=["system"])
log = get_logger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migration head."""
    db = request.app.state.db
    try:
        await db.ping()
        current = await current_revision(db.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("readyz_database_unreachable", error_type=type(exc).__name__)
        return JSONResponse(error_body("Database unreachable", "NOT_READY"), 503)
    head = head_revision()
    if current != head:
        message = f"Database schema at {current}, code expects {head}: run `paywarden migrate`"
        return JSONResponse(error_body(message, "NOT_READY"), 503)
    return JSONResponse({"status": "ready", "database": "ok", "migration": current})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
