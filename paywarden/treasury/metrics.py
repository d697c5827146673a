"""The issuer float's gauges refreshed when /metrics is scraped: from the stored snapshot the
worker pass keeps fresh, so any replica answers the same (the issuer itself is not asked)."""

from __future__ import annotations

from typing import Any

from paywarden.kit.logging import get_logger
from paywarden.kit.observability import Metrics
from paywarden.kit.time import utcnow
from paywarden.treasury import service

log = get_logger(__name__)


async def refresh_issuer_gauges(state: Any, metrics: Metrics) -> None:
    """`paywarden_issuer_balance{currency}` and `paywarden_issuer_runway_days` from the
    database; nothing with ISSUER=none; a failure is logged, the scrape still answers."""
    issuer = getattr(state, "issuer", None)
    if issuer is None:
        return
    now = utcnow()
    try:
        async with state.db.sessions() as session:
            status = await service.stored_status(session, issuer.name, now)
            view = await service.estimates_view(session, status, state.settings.tz, now)
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("metrics_issuer_state_unavailable", error_type=type(exc).__name__)
        return
    service.set_gauges(metrics, status, view)
