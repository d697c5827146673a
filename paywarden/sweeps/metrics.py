"""The sweeper's gauges refreshed when /metrics is scraped (registered with `kit/health` by
`paywarden/subscribers.py`): from the database, since the sweeper runs in the workers."""

from __future__ import annotations

from typing import Any

from paywarden.kit.logging import get_logger
from paywarden.kit.observability import Metrics
from paywarden.sweeps import repository as sweeps

log = get_logger(__name__)


async def refresh_sweep_gauges(state: Any, metrics: Metrics) -> None:
    """The hot wallet's balance and low flag (the cached read the wallet page also uses) and
    the sweep queue by state; a failure is logged, the scrape still answers."""
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
    for queue_state, count in queue.items():
        metrics.sweep_queue.labels(queue_state).set(count)
