"""Request ids, access logs and Prometheus metrics, as one pure ASGI middleware."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paywarden.kit.logging import get_logger

log = get_logger("paywarden.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Metrics:
    """The app's metrics in their own registry, so that two apps in one process don't clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=self.registry,
        )
        # Set from the scanner_state row when /metrics is scraped (any process can answer).
        self.scanner_last_block = Gauge(
            "paywarden_scanner_last_block",
            "The last block the chain scanner has read (its cursor)",
            registry=self.registry,
        )
        self.scanner_lag_blocks = Gauge(
            "paywarden_scanner_lag_blocks",
            "Blocks between the chain head (as last seen) and the scanner's cursor",
            registry=self.registry,
        )
        # The hot wallet and the sweep queue, from the database when /metrics is scraped.
        self.hot_wallet_trx = Gauge(
            "paywarden_hot_wallet_trx",
            "The hot wallet's TRX balance as last read (cached a few seconds)",
            registry=self.registry,
        )
        self.hot_wallet_low = Gauge(
            "paywarden_hot_wallet_low",
            "1 while the hot wallet holds less TRX than HOT_WALLET_ALERT_TRX, else 0",
            registry=self.registry,
        )
        # The card issuer's float: set when the treasury computes it and on each scrape from
        # the stored snapshot; NaN while unknown (never read, ISSUER=none, no outflow).
        self.issuer_balance = Gauge(
            "paywarden_issuer_balance",
            "The card issuer's balance as last read, in major units, by currency",
            ["currency"],
            registry=self.registry,
        )
        self.issuer_runway_days = Gauge(
            "paywarden_issuer_runway_days",
            "Days the issuer float lasts at the last 7 days' card spend (NaN: unknown)",
            registry=self.registry,
        )
        self.sweep_queue = Gauge(
            "paywarden_sweep_queue",
            "Sweep jobs by state (waiting, active, failed)",
            ["state"],
            registry=self.registry,
        )


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _route_template(scope: dict[str, Any]) -> str:
    # The template ("/api/v1/admin/operators/{operator_id}") keeps label cardinality bounded.
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(scope.get("root_path", "")) + path if scope.get("root_path") else path
    return "unmatched"
