"""Background loops, run by `paywarden worker` (`run_worker`), the only process given the hot
wallet key (the embedded `serve` starts one as its child process; the API never imports this).

Each loop runs one package's pass from its `tasks.py` (the rules stay in the services): one
bounded pass in its own transaction, then a sleep; an error is logged and the loop carries on
at its next tick, so one bad pass never stops the worker. Passes lock the rows they take
(SKIP LOCKED on PostgreSQL), so any number of workers may run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paywarden import subscribers
from paywarden.addresses import tasks as addresses
from paywarden.card_stats import tasks as card_stats
from paywarden.card_transactions import tasks as card_transactions
from paywarden.cards_dashboard import tasks as cards_dashboard
from paywarden.chain import tasks as chain
from paywarden.config import Settings
from paywarden.context import WorkerContext, database, gateway_context, sweeper, treasury_config
from paywarden.issuer.registry import adapter_for
from paywarden.kit.logging import get_logger
from paywarden.operators import tasks as operators
from paywarden.orders import tasks as orders
from paywarden.subscriptions import tasks as subscriptions
from paywarden.topups import service as topups
from paywarden.treasury import tasks as treasury
from paywarden.treasury.calls import counted
from paywarden.treasury.service import TreasuryConfig
from paywarden.webhooks import tasks as webhooks

log = get_logger(__name__)


@dataclass(frozen=True)
class Done:
    """A pass's work, and when the next should run when the pass knows better than the loop's
    interval (the scanner: at once while behind, else when the next block is due)."""

    work: int
    wait: float | None = None


@dataclass(frozen=True)
class Loop:
    name: str
    interval_seconds: float
    run_once: Callable[[WorkerContext], Awaitable[int | Done]]
    # The interval from the context's settings instead (e.g. SCAN_INTERVAL_SECONDS).
    interval_of: Callable[[WorkerContext], float | None] | None = None
    # Issuer work: not run by a process without an issuer (ISSUER=none).
    needs_issuer: bool = False

    def interval(self, ctx: WorkerContext) -> float:
        chosen = self.interval_of(ctx) if self.interval_of else None
        return chosen if chosen is not None else self.interval_seconds


async def expire_orders(ctx: WorkerContext) -> int:
    return await orders.expire_due(ctx.db, ctx.gateway.pool, base_url=ctx.gateway.public_base_url)


async def scan_chain(ctx: WorkerContext) -> Done:
    """One chain scanner pass (PostgreSQL: only the worker holding the scan lock scans)."""
    cfg, client = ctx.gateway.scanner, ctx.tron
    if cfg is None or client is None:
        return Done(0)
    result = await chain.scan_pass(ctx.db, client, cfg, ctx.gateway)
    return Done(result.work if result else 0, chain.next_pass_in(result, cfg, time.time()))


def _scan_interval(ctx: WorkerContext) -> float | None:
    return ctx.gateway.scanner.interval_seconds if ctx.gateway.scanner else None


async def dispatch_webhooks(ctx: WorkerContext) -> int:
    """Send due merchant webhooks (claims and outcomes are their own transactions)."""
    return await webhooks.dispatch_due(ctx.db, ctx.gateway.webhooks)


async def run_sweeps(ctx: WorkerContext) -> int:
    """Move due sweep jobs forward (claims are their own transactions; SKIP LOCKED)."""
    client = ctx.tron
    if ctx.sweeper is None or client is None:
        return 0
    return await ctx.sweeper.run_pass(ctx.db, client)


async def top_up_address_pool(ctx: WorkerContext) -> int:
    return await addresses.top_up(ctx.db, ctx.gateway.pool)


async def renew_subscriptions(ctx: WorkerContext) -> int:
    """Charge the subscriptions whose period ended (and retry unpaid ones); SKIP LOCKED."""
    return await subscriptions.renew_due(ctx.db)


async def process_issuer_events(ctx: WorkerContext) -> int:
    """Retry issuer webhooks left waiting (a prerequisite missing) or failed; SKIP LOCKED."""
    return await card_transactions.process_due(ctx.db)


async def expire_3ds_codes(ctx: WorkerContext) -> int:
    return await card_transactions.expire_codes(ctx.db)


async def check_issuer_float(ctx: WorkerContext) -> int:
    """Refresh the issuer's balances and health (shared, at most once a minute), write an
    `issuer_float_low` incident when the runway or a balance crosses its threshold, prune old
    issuer call counters."""
    if ctx.issuer is None:
        return 0
    cfg = ctx.treasury or TreasuryConfig(tz=ctx.gateway.tz)
    return await treasury.float_pass(ctx.db, ctx.issuer, cfg)


async def compact_card_stats(ctx: WorkerContext) -> int:
    """Fold the rollup's per-writer shards of past buckets into one row each (PostgreSQL)."""
    return await card_stats.compact(ctx.db)


async def refresh_card_exposure(ctx: WorkerContext) -> int:
    """Recompute what active cards could still spend (the overview reads it, at most 60 s old)."""
    await cards_dashboard.refresh_exposure(ctx.db)
    return 0


async def purge_operator_sessions(ctx: WorkerContext) -> int:
    return await operators.purge_expired(ctx.db)


LOOPS: list[Loop] = [
    Loop("scan_chain", 1, scan_chain, _scan_interval),
    Loop("expire_orders", 5, expire_orders),
    Loop("dispatch_webhooks", 1, dispatch_webhooks),
    Loop("run_sweeps", 1, run_sweeps),
    Loop("top_up_address_pool", 10, top_up_address_pool),
    Loop("purge_operator_sessions", 3600, purge_operator_sessions),
    Loop("renew_subscriptions", 60, renew_subscriptions),
    Loop("process_issuer_events", 2, process_issuer_events, needs_issuer=True),
    Loop("expire_3ds_codes", 15, expire_3ds_codes, needs_issuer=True),
    Loop("check_issuer_float", 60, check_issuer_float, needs_issuer=True),
    Loop("compact_card_stats", 300, compact_card_stats),
    Loop("refresh_card_exposure", 50, refresh_card_exposure, needs_issuer=True),
]


def loops_for(ctx: WorkerContext, loops: list[Loop] | None = None) -> list[Loop]:
    """The loops this process runs: the issuer's only when it has an issuer (not ISSUER=none)."""
    return [loop for loop in loops or LOOPS if ctx.issuer is not None or not loop.needs_issuer]


async def _run(loop: Loop, ctx: WorkerContext, stop: asyncio.Event) -> None:
    while not stop.is_set():
        wait: float | None = None
        try:
            done = await loop.run_once(ctx)
            if isinstance(done, Done):
                done, wait = done.work, done.wait
            if done:
                log.info("loop_pass", loop=loop.name, done=done)
        except Exception:
            log.exception("loop_failed", loop=loop.name)
        if wait == 0:
            continue
        with contextlib.suppress(TimeoutError):
            timeout = wait if wait is not None else loop.interval(ctx)
            await asyncio.wait_for(stop.wait(), timeout=timeout)


async def run_loops(
    ctx: WorkerContext, stop: asyncio.Event, loops: list[Loop] | None = None
) -> None:
    subscribers.compose()  # the event bus's subscribers, before any pass publishes
    try:
        await asyncio.gather(*(_run(loop, ctx, stop) for loop in loops_for(ctx, loops)))
    finally:
        if ctx.trongrid is None and "tron" in ctx.__dict__ and ctx.tron is not None:
            await ctx.tron.aclose()  # the client this context built for itself


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`paywarden worker`: the loops until `stop` is set. A ConfigError before any loop for keys
    that do not fit (SWEEP_SEED against XPUB), an unknown ISSUER or missing issuer secrets."""
    gateway = gateway_context(settings)
    sweeps = sweeper(settings, gateway)
    adapter = adapter_for(settings)
    db = database(settings)
    # Every call to the issuer counted in the database (the error rate all processes share).
    issuer = counted(adapter, lambda: db)
    try:
        async with db.transaction() as session:  # top-ups need the internal merchant
            await topups.prepare(session, settings)
        ctx = WorkerContext(
            db=db,
            gateway=gateway,
            sweeper=sweeps,
            issuer=issuer,
            treasury=treasury_config(settings),
        )
        await run_loops(ctx, stop)
    finally:
        if issuer is not None:  # ISSUER=none: no issuer, no issuer loops
            await issuer.aclose()
        await db.dispose()
