"""The issuer's status: live from the sandbox over HTTP, cached 60 s in the database for every
replica, the last balance kept when the issuer is down, and the provider status rules."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from paywarden.kit.time import utcnow
from paywarden.treasury import service
from paywarden.treasury.calls import CountedIssuer
from paywarden.treasury.schemas import IssuerOut
from tests.issuer.stack import IssuerStack
from tests.treasury.conftest import MILLION, down_adapter


async def test_the_status_is_cached_60_seconds_then_asked_again(
    issuer_stack: IssuerStack,
) -> None:
    stack, t0 = issuer_stack, utcnow()
    async with stack.db.transaction() as db:
        first = await service.issuer_status(db, stack.adapter, t0)
    assert first.provider_status == "ok"
    assert first.error is None
    assert {c: b.amount for c, b in first.balances.items()} == {"EUR": MILLION, "USD": MILLION}
    assert first.checked_at == t0
    assert first.balances["EUR"].checked_at == t0

    stack.sandbox.balances["EUR"] -= 12_345  # the issuer's float moves
    async with stack.db.transaction() as db:
        cached = await service.issuer_status(db, stack.adapter, t0 + timedelta(seconds=59))
    assert cached.balances["EUR"].amount == MILLION  # not asked again within the minute
    assert cached.checked_at == t0

    later = t0 + timedelta(seconds=60)
    async with stack.db.transaction() as db:
        fresh = await service.issuer_status(db, stack.adapter, later)
    assert fresh.balances["EUR"].amount == MILLION - 12_345
    assert fresh.balances["EUR"].checked_at == later
    assert fresh.checked_at == later

    out = IssuerOut.of(fresh).model_dump()
    assert out["balances"]["EUR"]["amount"] == "999876.55"
    assert out["balances"]["USD"]["amount"] == "1000000.00"
    assert out["provider_status"] == "ok"
    assert out["error"] is None


async def test_issuer_down_keeps_the_last_balance_with_its_time_and_an_error(
    issuer_stack: IssuerStack,
) -> None:
    stack, t0 = issuer_stack, utcnow()
    async with stack.db.transaction() as db:
        await service.issuer_status(db, stack.adapter, t0)
    down = down_adapter(stack)
    t1 = t0 + timedelta(seconds=61)
    async with stack.db.transaction() as db:
        status = await service.issuer_status(db, down, t1)
    assert status.provider_status == "down"
    assert status.checked_at == t1
    assert status.error is not None
    assert "unreachable" in status.error
    for currency in ("EUR", "USD"):
        balance = status.balances[currency]
        assert balance.amount == MILLION  # the last known value
        assert balance.checked_at == t0  # ... and when it was read
        assert balance.error is not None
        assert "unreachable" in balance.error
    out = IssuerOut.of(status).model_dump()
    assert out["balances"]["EUR"]["amount"] == "1000000.00"
    assert "Bearer" not in str(out)
    assert stack.settings.issuer_key() not in str(out)

    # Back up: the error clears, the balance is read again.
    t2 = t1 + timedelta(seconds=61)
    async with stack.db.transaction() as db:
        back = await service.issuer_status(db, stack.adapter, t2)
    assert back.balances["EUR"].error is None
    assert back.balances["EUR"].checked_at == t2
    assert back.error is None
    await down.aclose()


async def test_never_read_and_down_has_no_balance(issuer_stack: IssuerStack) -> None:
    down = down_adapter(issuer_stack)
    async with issuer_stack.db.transaction() as db:
        status = await service.issuer_status(db, down, utcnow())
    assert status.provider_status == "down"
    assert status.balances["EUR"].amount is None
    assert status.balances["EUR"].checked_at is None
    out = IssuerOut.of(status).model_dump()
    assert out["balances"]["USD"] == {
        "amount": None,
        "checked_at": None,
        "error": status.balances["USD"].error,
    }
    await down.aclose()


async def test_failing_calls_over_the_hour_make_it_degraded(issuer_stack: IssuerStack) -> None:
    stack = issuer_stack
    assert isinstance(stack.adapter, CountedIssuer)
    down = down_adapter(stack)
    for _ in range(2):  # two failed calls ...
        assert not (await down.health()).ok
    await down.drain()
    t0 = utcnow()
    async with stack.db.transaction() as db:
        status = await service.issuer_status(db, stack.adapter, t0)  # ... two answered
    await stack.adapter.drain()
    async with stack.db.transaction() as db:
        failed, total = await service.error_rate_1h(db, utcnow())
        again = await service.issuer_status(db, stack.adapter, t0 + timedelta(seconds=1))
    assert (failed, total) == (2, 4)
    assert status.provider_status in ("ok", "degraded")  # its own counts may still be in flight
    assert again.provider_status == "degraded"  # health ok, 50 % of the calls failed
    await down.aclose()


def test_the_provider_status_rules() -> None:
    assert service.provider_status_of(None, False, 0, 0) == "down"  # the health call failed
    assert service.provider_status_of(False, False, 0, 0) == "down"  # health says not ok
    assert service.provider_status_of(True, True, 0, 0) == "degraded"  # balances failed
    assert service.provider_status_of(True, False, 5, 100) == "degraded"  # 5 % exactly
    assert service.provider_status_of(True, False, 4, 100) == "ok"  # under 5 %
    assert service.provider_status_of(True, False, 0, 0) == "ok"


async def test_two_replicas_refreshing_at_once_both_succeed(issuer_stack: IssuerStack) -> None:
    stack, now = issuer_stack, utcnow()

    async def one() -> service.IssuerStatus:
        async with stack.db.transaction() as db:
            return await service.issuer_status(db, stack.adapter, now)

    first, second = await asyncio.gather(one(), one())
    assert first.balances["EUR"].amount == second.balances["EUR"].amount == MILLION


async def test_without_an_issuer_the_status_says_cards_are_off(issuer_stack: IssuerStack) -> None:
    async with issuer_stack.db.transaction() as db:
        status = await service.issuer_status(db, None, utcnow())
    assert status.provider_status == "down"
    assert status.error == service.CARDS_OFF
    assert all(b.amount is None for b in status.balances.values())
