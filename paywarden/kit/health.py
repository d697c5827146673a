"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

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
    """The Prometheus text of an app (its `app.state`), gauges refreshed from the database."""
    registry = state.metrics
    await _scanner_gauges(state, registry)
    await _sweep_gauges(state, registry)
    for refresher in getattr(state, "metrics_refreshers", ()):  # domains' gauges (app.py)
        await refresher(state, registry)
    body = generate_latest(registry.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _scanner_gauges(state: State, metrics: Metrics) -> None:
    """Scanner cursor and lag from the database: the scanner may run in another process."""
    from paywarden.chain import repository as chain

    scanner = getattr(state.gateway, "scanner", None)
    if scanner is None:
        return
    try:
        async with state.db.sessions() as session:
            state = await chain.state(session, scanner.key)
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("metrics_scanner_state_unavailable", error_type=type(exc).__name__)
        return
    if state is not None:
        metrics.scanner_last_block.set(state.last_block)
        metrics.scanner_lag_blocks.set(max(0, state.head_block - state.last_block))


async def _sweep_gauges(state: State, metrics: Metrics) -> None:
    """The hot wallet's balance and low flag, and the sweep queue, from the database (the
    sweeper runs in the workers; the balance is the cached read the wallet page also uses)."""
    from paywarden.sweeps import repository as sweeps

    try:
        async with state.db.sessions() as session:
            hot = await sweeps.hot_wallet(session)
            queue = await sweeps.queue_counts(session)
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("metrics_sweep_state_unavailable", error_type=type(exc).__name__)
        return
    if hot is not None and hot.balance_sun is not None:
        metrics.hot_wallet_trx.set(hot.balance_sun / 1_000_000)
        metrics.hot_wallet_low.set(1 if hot.is_low else 0)
    for state, count in queue.items():
        metrics.sweep_queue.labels(state).set(count)
