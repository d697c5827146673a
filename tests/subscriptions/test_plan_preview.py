"""The preview of a plan change (`preview_select`): the fee and wallet `select_plan` then
charges, its refusals, and nothing written; and `select_plan` tapped twice at once pays once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.models import Plan, Subscription
from paywarden.subscriptions import service as subs
from paywarden.subscriptions.service import PlanChange
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    load,
    make_plan,
    new_client,
    set_rate,
)


async def _preview(db: Database, client_id: uuid.UUID, plan: Plan) -> PlanChange:
    async with db.transaction() as session:
        return await subs.preview_select(session, await load(session, client_id), plan.id)


async def _select(db: Database, client_id: uuid.UUID, plan: Plan) -> Subscription:
    async with db.transaction() as session:
        return await subs.select_plan(session, await load(session, client_id), plan.id)


async def _refusal(db: Database, client_id: uuid.UUID, plan_id: uuid.UUID) -> tuple[int, str]:
    with pytest.raises(AppError) as refused:
        async with db.transaction() as session:
            await subs.preview_select(session, await load(session, client_id), plan_id)
    return refused.value.status, refused.value.code


async def _subscriptions(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Subscription)) or 0)


@pytest.mark.parametrize(
    ("eur", "usd", "expected"),
    [
        (5_000, 0, ("EUR", 1_999)),  # EUR first
        (1_000, 5_000, ("USD", 2_169)),  # EUR short: 19.99 x 1.085 = 21.68915, rounded up
    ],
)
async def test_the_preview_names_the_charge_select_plan_then_makes(
    db: Database, eur: int, usd: int, expected: tuple[str, int]
) -> None:
    await set_rate(db, 1_085_000)
    pro = await make_plan(db, monthly_fee=1_999, max_active_cards=7)
    client_id = await new_client(db, eur=eur, usd=usd)
    change = await _preview(db, client_id, pro)
    assert (change.fee_currency, change.fee_amount) == expected
    assert (change.current, change.unchanged, change.max_active_after) == (None, False, 7)
    assert await balances(db, client_id) == {"EUR": eur, "USD": usd}  # nothing written
    assert await _subscriptions(db) == 0
    sub = await _select(db, client_id, pro)
    assert sub.fee_currency == expected[0]
    left = {"EUR": eur, "USD": usd}
    left[expected[0]] -= expected[1]
    assert await balances(db, client_id) == left
    assert sub.current_period_end is not None
    assert abs((sub.current_period_end - change.period_end).total_seconds()) < 60


async def test_the_paid_current_plan_is_unchanged_and_a_free_plan_costs_nothing(
    db: Database,
) -> None:
    basic = await make_plan(db, monthly_fee=999, is_default=True, max_active_cards=2)
    free = await make_plan(db, monthly_fee=0, max_active_cards=4)
    client_id = await new_client(db, eur=5_000)
    await _select(db, client_id, basic)
    again = await _preview(db, client_id, basic)
    assert again.unchanged is True
    assert (again.fee_currency, again.fee_amount) == (None, 0)
    change = await _preview(db, client_id, free)
    assert change.current is not None
    assert change.current.id == basic.id
    assert (change.unchanged, change.fee_currency, change.fee_amount) == (False, None, 0)
    assert (change.max_active_before, change.max_active_after) == (2, 4)
    async with db.transaction() as session:
        client = await load(session, client_id)
        client.max_active_cards = 1  # the client's own cap wins over any plan's
    change = await _preview(db, client_id, free)
    assert (change.max_active_before, change.max_active_after) == (1, 1)
    assert await count_kind(db, "subscription_fee") == 1


async def test_the_preview_refuses_as_select_plan_does(db: Database) -> None:
    hidden = await make_plan(db, monthly_fee=100, hidden_from_home=True)
    archived = await make_plan(db, monthly_fee=100, archived=True)
    pro = await make_plan(db, monthly_fee=1_999)
    client_id = await new_client(db, eur=1_000)
    assert await _refusal(db, client_id, hidden.id) == (403, "PLAN_NOT_SELECTABLE")
    assert await _refusal(db, client_id, archived.id) == (403, "PLAN_NOT_SELECTABLE")
    assert await _refusal(db, client_id, uuid.uuid4()) == (404, "NOT_FOUND")
    assert await _refusal(db, client_id, pro.id) == (402, "INSUFFICIENT_FUNDS")
    usd_only = await new_client(db, eur=1_000, usd=50_000)  # and no rate set
    assert await _refusal(db, usd_only, pro.id) == (409, "FX_RATE_NOT_SET")
    async with db.transaction() as session:
        (await load(session, usd_only)).status = "banned"
    assert await _refusal(db, usd_only, pro.id) == (403, "CLIENT_BANNED")


async def test_concurrent_selections_of_one_plan_charge_once(db: Database) -> None:
    await make_plan(db, monthly_fee=0, is_default=True)
    pro = await make_plan(db, monthly_fee=1_999)
    client_id = await new_client(db, eur=10_000)
    async with db.transaction() as session:
        await subs.ensure(session, await load(session, client_id))

    async def tap() -> None:
        async with db.transaction() as session:
            client = await load(session, client_id)  # read before the other tap commits
            await asyncio.sleep(0)
            await subs.select_plan(session, client, pro.id)

    await asyncio.gather(*(tap() for _ in range(3)))
    assert await count_kind(db, "subscription_fee") == 1
    assert await balances(db, client_id) == {"EUR": 10_000 - 1_999, "USD": 0}
