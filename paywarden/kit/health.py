"""Liveness, readiness and Prometheus metrics.

Knows no domain: the domains' gauges (the scanner's, the sweeper's) are registered with
`register_gauges` when the process is composed (`paywarden/subscribers.py`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import State

from paywarden.config import Settings
from paywarden.kit.errors import AppError, NotFound, error_body
from paywarden.kit.logging import get_logger
from paywarden.kit.migrations import current_revision, head_revision
from paywarden.kit.observability import Metrics

router = APIRouter(tags=["system"])
log = get_logger(__name__)

# Refreshes gauges from the database when /metrics is scraped: given the app's state and its
# metrics, it logs its own failures (a scrape answers even when the database does not).
GaugeRefresher = Callable[[Any, Metrics], Awaitable[None]]
_gauges: list[GaugeRefresher] = []


def register_gauges(refresher: GaugeRefresher) -> None:
    """A domain's gauges, refreshed at each scrape (registered when the process is composed:
    this module knows no domain). Registering one twice changes nothing."""
    if refresher not in _gauges:
        _gauges.append(refresher)


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


class MetricsUnauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Metrics need Authorization: Bearer <METRICS_TOKEN>"


def _bearer_matches(request: Request, token: str) -> bool:
    # Constant time over the whole header: a timing side channel must not spell the token.
    given = request.headers.get("authorization", "").encode("latin-1")
    return hmac.compare_digest(given, f"Bearer {token}".encode())


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Bearer METRICS_TOKEN when set; production without one serves them only on
    127.0.0.1:METRICS_PORT (kit/metrics_listener.py), so here they are 404."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is not None:
        if not _bearer_matches(request, settings.metrics_token.get_secret_value()):
            raise MetricsUnauthorized(headers={"WWW-Authenticate": "Bearer"})
    elif settings.is_production:
        raise NotFound()
    return await render_metrics(request.app.state)


async def render_metrics(state: State) -> Response:
    """The Prometheus text of an app (its `app.state`), gauges refreshed from the database by
    what the domains registered (`register_gauges`) and the app's own `metrics_refreshers`."""
    registry = state.metrics
    for refresher in [*_gauges, *getattr(state, "metrics_refreshers", ())]:
        await refresher(state, registry)
    body = generate_latest(registry.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
