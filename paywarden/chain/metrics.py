"""The scanner's gauges refreshed when /metrics is scraped (registered with `kit/health` by
`paywarden/subscribers.py`): from the database, since the scanner may run in another process."""

from __future__ import annotations

from typing import Any

from paywarden.chain import repository as chain
from paywarden.kit.logging import get_logger
from paywarden.kit.observability import Metrics

log = get_logger(__name__)


async def refresh_scanner_gauges(state: Any, metrics: Metrics) -> None:
    """`paywarden_scanner_last_block` and `paywarden_scanner_lag_blocks`; nothing without a
    scanner; a failure is logged, the scrape still answers."""
    scanner = getattr(state.gateway, "scanner", None)
    if scanner is None:
        return
    try:
        async with state.db.sessions() as session:
            row = await chain.state(session, scanner.key)
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("metrics_scanner_state_unavailable", error_type=type(exc).__name__)
        return
    if row is not None:
        metrics.scanner_last_block.set(row.last_block)
        metrics.scanner_lag_blocks.set(max(0, row.head_block - row.last_block))
