"""The treasury's worker pass (every 60 s): refresh the issuer status, check the float against
its thresholds (an `issuer_float_low` incident once per crossing), prune old call counters."""

from __future__ import annotations

from datetime import datetime

from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.db import Database
from paywarden.kit.observability import Metrics
from paywarden.kit.time import utcnow
from paywarden.treasury import service
from paywarden.treasury.service import SpendFn, TreasuryConfig


async def float_pass(
    db: Database,
    adapter: IssuerAdapter,
    cfg: TreasuryConfig,
    *,
    metrics: Metrics | None = None,
    spend: SpendFn | None = None,
    now: datetime | None = None,
) -> int:
    """One pass in one transaction; returns the incidents written (0 or 1). Several workers at
    once are safe: the status upsert and the alert's row lock order them."""
    now = now or utcnow()
    async with db.transaction() as session:
        status = await service.issuer_status(session, adapter, now)
        view = await service.estimates_view(session, status, cfg.tz, now, spend=spend)
        incident = await service.check_float(session, adapter.name, status, view, cfg, now)
        await service.prune_call_counts(session, now)
    if metrics is not None:
        service.set_gauges(metrics, status, view)
    return 1 if incident is not None else 0
