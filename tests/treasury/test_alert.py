"""The low-float alert: an `issuer_float_low` incident once per crossing, again after recovery
and a new crossing, one with two workers at once; listed by GET /api/v1/admin/incidents; the
gauges on /metrics."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from paywarden.kit.time import utcnow
from paywarden.models import Incident
from paywarden.models.incidents import ISSUER_FLOAT_LOW
from paywarden.treasury import tasks
from paywarden.treasury.service import TreasuryConfig
from tests.conftest import client_for
from tests.issuer.stack import IssuerStack
from tests.treasury.conftest import MILLION, fixed_spend, signed_in

NO_SPEND = fixed_spend({"EUR": 0, "USD": 0})


async def incidents(stack: IssuerStack) -> list[Incident]:
    async with stack.db.transaction() as db:
        rows = await db.scalars(
            select(Incident)
            .where(Incident.event_type == ISSUER_FLOAT_LOW)
            .order_by(Incident.created_at)
        )
        return list(rows)


async def run(stack: IssuerStack, cfg: TreasuryConfig, now: datetime, spend: Any = NO_SPEND) -> int:
    return await tasks.float_pass(stack.db, stack.adapter, cfg, spend=spend, now=now)


async def test_a_balance_crossing_is_written_once_and_again_after_recovery(
    issuer_stack: IssuerStack,
) -> None:
    stack, t0 = issuer_stack, utcnow()
    cfg = TreasuryConfig(balance_alerts={"EUR": 500_000_00})  # 500,000.00 EUR
    assert await run(stack, cfg, t0) == 0  # 1,000,000.00: above
    stack.sandbox.balances["EUR"] = 400_000_00
    assert await run(stack, cfg, t0 + timedelta(seconds=61)) == 1  # crossed
    assert await run(stack, cfg, t0 + timedelta(seconds=122)) == 0  # still low: no repeat
    assert await run(stack, cfg, t0 + timedelta(seconds=200)) == 0
    [first] = await incidents(stack)
    assert first.payload["crossed"] == ["balance_EUR"]
    assert first.payload["figures"]["balance_EUR"]["value"] == "400000.00"
    assert first.payload["figures"]["balance_EUR"]["threshold"] == "500000.00"
    assert first.payload["thresholds"] == {"runway_days": "3.00", "balances": {"EUR": "500000.00"}}
    assert first.order_id is None
    assert first.merchant_id is None

    stack.sandbox.balances["EUR"] = 600_000_00  # back above: the flag clears, nothing written
    assert await run(stack, cfg, t0 + timedelta(seconds=300)) == 0
    stack.sandbox.balances["EUR"] = 100_000_00  # a new crossing: a new incident
    assert await run(stack, cfg, t0 + timedelta(seconds=400)) == 1
    assert len(await incidents(stack)) == 2


async def test_a_runway_crossing(issuer_stack: IssuerStack) -> None:
    stack, t0 = issuer_stack, utcnow()
    cfg = TreasuryConfig(runway_alert_days=Decimal("3"))
    # 7,000,000.00 EUR spent in 7 days: 1,000,000.00 a day; the balance lasts 1 day.
    fast = fixed_spend({"EUR": 7 * MILLION, "USD": 0})
    assert await run(stack, cfg, t0, fast) == 1
    assert await run(stack, cfg, t0 + timedelta(seconds=61), fast) == 0
    [incident] = await incidents(stack)
    assert incident.payload["crossed"] == ["runway"]
    runway = incident.payload["figures"]["runway"]
    assert runway["value"] == "1.00"
    assert runway["threshold"] == "3.00"
    assert runway["by_currency"] == {"EUR": "1.00", "USD": None}
    # Spend slows: the runway is 7 days, above; then it falls again: a second incident.
    slow = fixed_spend({"EUR": MILLION, "USD": 0})
    assert await run(stack, cfg, t0 + timedelta(seconds=120), slow) == 0
    assert await run(stack, cfg, t0 + timedelta(seconds=180), fast) == 1
    assert len(await incidents(stack)) == 2


async def test_two_workers_at_once_write_one_incident(issuer_stack: IssuerStack) -> None:
    stack, now = issuer_stack, utcnow()
    cfg = TreasuryConfig(balance_alerts={"EUR": 2 * MILLION, "USD": 2 * MILLION})
    results = await asyncio.gather(*(run(stack, cfg, now) for _ in range(4)))
    assert sorted(results) == [0, 0, 0, 1]
    [incident] = await incidents(stack)
    assert incident.payload["crossed"] == ["balance_EUR", "balance_USD"]


async def test_the_incidents_list_shows_it_in_the_seed_shape(issuer_stack: IssuerStack) -> None:
    stack = issuer_stack
    await run(stack, TreasuryConfig(balance_alerts={"USD": 2 * MILLION}), utcnow())
    async with client_for(stack.app) as client:
        await signed_in(stack.db, client, "ops@example.com", "operator")
        response = await client.get("/api/v1/admin/incidents")
    assert response.status_code == 200
    [item] = response.json()["data"]
    assert item["event_type"] == "issuer_float_low"
    assert item["payload"]["figures"]["balance_USD"]["value"] == "1000000.00"
    assert item["order_id"] is None
    assert item["order_status"] is None
    assert item["external_id"] is None
    assert item["merchant_name"] is None
    assert set(item) == {
        "id",
        "created_at",
        "event_type",
        "payload",
        "order_id",
        "order_status",
        "external_id",
        "merchant_name",
    }


def gauges(text: str) -> dict[tuple[str, str | None], float]:
    found: dict[tuple[str, str | None], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("paywarden_issuer_"):
                found[(sample.name, sample.labels.get("currency"))] = sample.value
    return found


async def test_the_gauges_on_metrics(issuer_stack: IssuerStack) -> None:
    stack = issuer_stack
    stack.sandbox.balances["USD"] = 1_234_56
    # The worker's pass stores the snapshot; a scrape reads it (no issuer call).
    await tasks.float_pass(stack.db, stack.adapter, TreasuryConfig(), now=utcnow())
    async with client_for(stack.app) as client:
        found = gauges((await client.get("/metrics")).text)
    assert found[("paywarden_issuer_balance", "EUR")] == 1_000_000.0
    assert found[("paywarden_issuer_balance", "USD")] == 1234.56
    runway = found[("paywarden_issuer_runway_days", None)]
    assert runway != runway  # NaN: no card spend, the runway is unknown


async def test_the_worker_runs_the_pass_every_minute_with_an_issuer(
    issuer_stack: IssuerStack,
) -> None:
    from paywarden.context import WorkerContext, gateway_context, treasury_config
    from paywarden.worker import LOOPS, check_issuer_float, loops_for

    [loop] = [loop for loop in LOOPS if loop.name == "check_issuer_float"]
    assert loop.interval_seconds == 60
    assert loop.needs_issuer
    stack = issuer_stack
    settings = stack.settings.model_copy(update={"issuer_balance_alert_usd": "2000000.00"})
    ctx = WorkerContext(
        db=stack.db,
        gateway=gateway_context(settings),
        issuer=stack.adapter,
        treasury=treasury_config(settings),
    )
    assert loop in loops_for(ctx)
    assert await check_issuer_float(ctx) == 1
    assert await check_issuer_float(ctx) == 0
    [incident] = await incidents(stack)
    assert incident.payload["crossed"] == ["balance_USD"]
    no_issuer = WorkerContext(db=stack.db, gateway=ctx.gateway)
    assert loop not in loops_for(no_issuer)
