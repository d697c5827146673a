"""Every call to the issuer is counted in the database, ok or failed, by the wrapper the app
composes around its adapter; a rolled-back transaction still counts its failed call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from paywarden.issuer.base import IssuerError
from paywarden.kit.time import utcnow
from paywarden.models import IssuerCallCount
from paywarden.treasury import repository as repo
from paywarden.treasury import service, tasks
from paywarden.treasury.calls import CountedIssuer
from paywarden.treasury.service import TreasuryConfig
from tests.issuer.stack import IssuerStack
from tests.treasury.conftest import down_adapter, fixed_spend


async def rate(stack: IssuerStack) -> tuple[int, int]:
    assert isinstance(stack.adapter, CountedIssuer)
    await stack.adapter.drain()
    async with stack.db.transaction() as db:
        return await service.error_rate_1h(db, utcnow())


async def test_each_call_counts_as_ok_or_failed(issuer_stack: IssuerStack) -> None:
    stack = issuer_stack
    adapter = stack.adapter
    assert isinstance(adapter, CountedIssuer)  # what app.py composes
    card = await adapter.create_card(
        currency="EUR", monthly_limit=50_000, label=None, reference="card-1"
    )
    await adapter.freeze(card.issuer_card_id)
    await adapter.set_limit(card.issuer_card_id, 60_000)
    await adapter.balances()
    assert (await adapter.health()).ok
    assert (await rate(stack)) == (0, 5)
    with pytest.raises(IssuerError):
        await adapter.freeze("no-such-card")  # the issuer refuses: a failed call
    with pytest.raises(IssuerError):
        await adapter.card_details("no-such-card")
    assert (await rate(stack)) == (2, 7)


async def test_a_rolled_back_transaction_still_counts_its_failed_call(
    issuer_stack: IssuerStack,
) -> None:
    stack = issuer_stack
    down = down_adapter(stack)

    async def a_request_that_fails() -> None:
        async with stack.db.transaction() as session:
            await session.execute(text("SELECT 1"))  # the request's transaction is open
            await down.create_card(currency="EUR", monthly_limit=1, label=None, reference="x")

    with pytest.raises(IssuerError):
        await a_request_that_fails()  # ... and rolls back
    assert (await rate_of(stack, down)) == (1, 1)
    await down.aclose()


async def rate_of(stack: IssuerStack, adapter: CountedIssuer) -> tuple[int, int]:
    await adapter.drain()
    async with stack.db.transaction() as db:
        return await service.error_rate_1h(db, utcnow())


async def test_the_rate_reads_the_last_hour_and_the_pass_prunes_old_counts(
    issuer_stack: IssuerStack,
) -> None:
    stack, now = issuer_stack, utcnow()
    minute = service.floor_minute(now)
    async with stack.db.transaction() as db:
        await repo.bump_calls(db, minute - timedelta(minutes=59), ok=3, failed=1)  # in the hour
        await repo.bump_calls(db, minute - timedelta(minutes=60), ok=5, failed=5)  # an hour ago
        await repo.bump_calls(db, minute - timedelta(hours=3), ok=7, failed=7)  # long gone
        assert await service.error_rate_1h(db, now) == (1, 4)
    spend = fixed_spend({"EUR": 0, "USD": 0})
    await tasks.float_pass(stack.db, stack.adapter, TreasuryConfig(), spend=spend, now=now)
    async with stack.db.transaction() as db:
        minutes = set(await db.scalars(select(IssuerCallCount.minute)))
    assert minute - timedelta(hours=3) not in minutes
    assert minute - timedelta(minutes=60) in minutes  # kept 2 hours
