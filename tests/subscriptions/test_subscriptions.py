"""Subscriptions: the default plan for new clients, the monthly fee from EUR or USD, plan choice
and assignment, and the renewal job charging each period exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.models import AuditEntry, LedgerTransaction, Subscription
from paywarden.subscriptions import service as subs
from paywarden.subscriptions.service import add_month
from tests.subscriptions.conftest import (
    OPERATOR,
    balances,
    count_kind,
    fund,
    ledger_ok,
    load,
    make_plan,
    new_client,
    set_rate,
    system_balance,
)


async def _ensure(db: Database, client_id: uuid.UUID) -> Subscription | None:
    async with db.transaction() as session:
        return await subs.ensure(session, await load(session, client_id))


async def _sub(db: Database, client_id: uuid.UUID) -> Subscription:
    async with db.transaction() as session:
        row = await session.scalar(select(Subscription).where(Subscription.client_id == client_id))
        assert row is not None
        return row


async def _fee_keys(db: Database, client_id: uuid.UUID) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(LedgerTransaction.idempotency_key)
            .where(LedgerTransaction.idempotency_key.like(f"subscription:{client_id}:%"))
            .order_by(LedgerTransaction.created_at)
        )
        return list(rows.all())


def _code(exc: pytest.ExceptionInfo[AppError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


async def test_a_free_default_plan_is_active_at_once_and_ensure_is_idempotent(db: Database) -> None:
    plan = await make_plan(db, monthly_fee=0, is_default=True)
    client_id = await new_client(db)
    first = await _ensure(db, client_id)
    second = await _ensure(db, client_id)
    assert first is not None
    assert second is not None
    assert first.id == second.id
    sub = await _sub(db, client_id)
    assert (sub.status, sub.plan_id, sub.fee_charged, sub.fee_currency) == (
        "active",
        plan.id,
        0,
        None,
    )
    assert sub.current_period_start is not None
    assert sub.current_period_end == add_month(sub.current_period_start)
    assert await count_kind(db, "subscription_fee") == 0
    async with db.transaction() as session:
        client = await load(session, client_id)
        assert client.plan_id == plan.id
        assert client.plan_since is not None
        rows = await session.scalars(
            select(Subscription).where(Subscription.client_id == client_id)
        )
        assert len(rows.all()) == 1


async def test_without_a_default_plan_ensure_gives_nothing(db: Database) -> None:
    client_id = await new_client(db)
    assert await _ensure(db, client_id) is None


async def test_the_first_fee_comes_from_eur(db: Database) -> None:
    await make_plan(db, monthly_fee=999, is_default=True)
    client_id = await new_client(db, eur=2_000, usd=5_000)
    await _ensure(db, client_id)
    sub = await _sub(db, client_id)
    assert (sub.status, sub.fee_charged, sub.fee_currency) == ("active", 999, "EUR")
    assert await balances(db, client_id) == {"EUR": 1_001, "USD": 5_000}
    assert await system_balance(db, "fee_revenue", "EUR") == 999
    [key] = await _fee_keys(db, client_id)
    assert sub.current_period_start is not None
    assert key == f"subscription:{client_id}:{sub.current_period_start.isoformat()}"
    await ledger_ok(db)


async def test_usd_pays_at_the_operators_rate_rounded_up_when_eur_is_short(db: Database) -> None:
    await make_plan(db, monthly_fee=999, is_default=True)
    await set_rate(db, 1_085_000)  # 9.99 EUR = 10.83915 USD -> 10.84
    client_id = await new_client(db, eur=500, usd=2_000)
    await _ensure(db, client_id)
    sub = await _sub(db, client_id)
    assert (sub.status, sub.fee_charged, sub.fee_currency) == ("active", 999, "USD")
    assert await balances(db, client_id) == {"EUR": 500, "USD": 916}
    assert await system_balance(db, "fee_revenue", "USD") == 1_084
    await ledger_ok(db)


async def test_without_funds_pending_then_a_refusal_then_paid_when_money_arrives(
    db: Database,
) -> None:
    default = await make_plan(db, monthly_fee=999, is_default=True)
    pro = await make_plan(db, monthly_fee=2_500)
    client_id = await new_client(db, eur=100)
    await _ensure(db, client_id)
    assert (await _sub(db, client_id)).status == "pending"
    # No USD route without a rate; and the EUR wallet alone is short.
    with pytest.raises(AppError) as refused:
        async with db.transaction() as session:
            await subs.select_plan(session, await load(session, client_id), pro.id)
    assert _code(refused) == (402, "INSUFFICIENT_FUNDS")
    sub = await _sub(db, client_id)
    assert (sub.status, sub.plan_id) == ("pending", default.id)
    async with db.transaction() as session:
        assert (await load(session, client_id)).plan_id == default.id
        summary = await subs.summary(session, await load(session, client_id))
        assert summary.status == "pending"
        assert summary.can_create_cards is False
    assert await balances(db, client_id) == {"EUR": 100, "USD": 0}

    await fund(db, client_id, "EUR", 1_000)
    async with db.transaction() as session:
        assert await subs.charge_unpaid(session, await load(session, client_id)) is True
    sub = await _sub(db, client_id)
    assert (sub.status, sub.fee_currency) == ("active", "EUR")
    assert await balances(db, client_id) == {"EUR": 101, "USD": 0}
    await ledger_ok(db)


async def test_select_plan_rules(db: Database) -> None:
    default = await make_plan(db, monthly_fee=0, is_default=True)
    pro = await make_plan(db, monthly_fee=1_500)
    hidden = await make_plan(db, hidden_from_home=True)
    archived = await make_plan(db, archived=True)
    client_id = await new_client(db, eur=5_000)
    await _ensure(db, client_id)

    async def select_(plan_id: uuid.UUID) -> Subscription:
        async with db.transaction() as session:
            return await subs.select_plan(session, await load(session, client_id), plan_id)

    for plan_id, expected in (
        (hidden.id, (403, "PLAN_NOT_SELECTABLE")),
        (archived.id, (403, "PLAN_NOT_SELECTABLE")),
        (uuid.uuid4(), (404, "NOT_FOUND")),
    ):
        with pytest.raises(AppError) as refused:
            await select_(plan_id)
        assert _code(refused) == expected
    # The current plan while active: nothing happens.
    before = await _sub(db, client_id)
    again = await select_(default.id)
    assert again.current_period_start == before.current_period_start

    sub = await select_(pro.id)
    assert (sub.status, sub.plan_id, sub.fee_charged, sub.fee_currency) == (
        "active",
        pro.id,
        1_500,
        "EUR",
    )
    await select_(pro.id)  # the current plan again: no second charge
    assert await balances(db, client_id) == {"EUR": 3_500, "USD": 0}

    async with db.transaction() as session:
        client = await load(session, client_id)
        client.status = "banned"
    with pytest.raises(AppError) as banned:
        await select_(default.id)
    assert _code(banned) == (403, "CLIENT_BANNED")


async def test_an_operator_assigns_any_unarchived_plan_past_due_without_funds(
    db: Database,
) -> None:
    await make_plan(db, monthly_fee=0, is_default=True)
    hidden = await make_plan(db, monthly_fee=700, hidden_from_home=True)
    archived = await make_plan(db, archived=True)
    client_id = await new_client(db)
    await _ensure(db, client_id)

    async def assign(plan_id: uuid.UUID, notes: str | None) -> Subscription:
        async with db.transaction() as session:
            client = await load(session, client_id)
            return await subs.assign_plan(session, client, plan_id, OPERATOR, notes)

    with pytest.raises(AppError) as refused:
        await assign(archived.id, None)
    assert refused.value.status == 409
    sub = await assign(hidden.id, "VIP from support")
    assert (sub.status, sub.plan_id) == ("past_due", (await _sub(db, client_id)).plan_id)
    async with db.transaction() as session:
        client = await load(session, client_id)
        assert (client.plan_id, client.tariff_notes) == (hidden.id, "VIP from support")
        summary = await subs.summary(session, client)
        assert (summary.status, summary.plan, summary.can_create_cards) == (
            "past_due",
            summary.plan,
            False,
        )
        assert summary.plan is not None
        assert summary.plan.id == hidden.id
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "client.plan_assign")
        )
        assert entry is not None
        assert (entry.target_type, entry.target_id) == ("client", str(client_id))
        assert entry.details["plan_id"] == str(hidden.id)
        assert entry.details["charged"] is False

    await fund(db, client_id, "EUR", 700)
    sub = await assign(hidden.id, None)  # again, now payable
    assert (sub.status, sub.plan_id, sub.fee_charged) == ("active", hidden.id, 700)
    assert await balances(db, client_id) == {"EUR": 0, "USD": 0}


async def test_summary_counts_slots_and_caps(db: Database) -> None:
    plan = await make_plan(db, monthly_fee=0, is_default=True, cards_included=2, max_active_cards=5)
    client_id = await new_client(db)
    await _ensure(db, client_id)
    async with db.transaction() as session:
        client = await load(session, client_id)
        s = await subs.summary(session, client)
        assert (s.plan and s.plan.id, s.status, s.cards_included, s.active_cards) == (
            plan.id,
            "active",
            2,
            0,
        )
        assert (s.slots_left, s.max_active, s.next_card_issue_fee, s.can_create_cards) == (
            2,
            5,
            0,
            True,
        )
        client.max_active_cards = 0  # the operator's override
        s = await subs.summary(session, client)
        assert (s.max_active, s.can_create_cards) == (0, False)
        client.max_active_cards = None
        client.can_create_cards = False
        assert (await subs.summary(session, client)).can_create_cards is False
    no_slots = await make_plan(db, cards_included=0, card_issue_fee=450)
    async with db.transaction() as session:
        client = await load(session, client_id)
        client.plan_id = no_slots.id
        s = await subs.summary(session, client)
        assert (s.slots_left, s.next_card_issue_fee) == (0, 450)
    other = await new_client(db)
    async with db.transaction() as session:
        s = await subs.summary(session, await load(session, other))
        assert (s.plan, s.status, s.can_create_cards) == (None, "none", False)


def test_a_period_is_a_calendar_month_with_the_day_clamped() -> None:
    at = datetime(2027, 1, 31, 10, 30, tzinfo=UTC)
    assert add_month(at) == datetime(2027, 2, 28, 10, 30, tzinfo=UTC)
    assert add_month(datetime(2028, 1, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_month(datetime(2027, 12, 15, tzinfo=UTC)) == datetime(2028, 1, 15, tzinfo=UTC)
    assert add_month(datetime(2027, 3, 31, tzinfo=UTC)) == datetime(2027, 4, 30, tzinfo=UTC)


async def _start_at(db: Database, client_id: uuid.UUID, start: datetime) -> None:
    async with db.transaction() as session:
        sub = await session.scalar(select(Subscription).where(Subscription.client_id == client_id))
        assert sub is not None
        sub.current_period_start = start
        sub.current_period_end = add_month(start)


async def test_renewal_charges_each_period_once_even_when_run_twice(db: Database) -> None:
    plan = await make_plan(db, monthly_fee=1_000, is_default=True)
    client_id = await new_client(db, eur=5_000)
    await _ensure(db, client_id)
    jan31 = datetime(2027, 1, 31, 12, tzinfo=UTC)
    await _start_at(db, client_id, jan31)
    now = datetime(2027, 3, 1, tzinfo=UTC)
    for expected in (1, 0):
        async with db.transaction() as session:
            assert await subs.renew_due(session, now) == expected
    sub = await _sub(db, client_id)
    feb28 = datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert (sub.status, sub.plan_id) == ("active", plan.id)
    assert (sub.current_period_start, sub.current_period_end) == (
        feb28,
        datetime(2027, 3, 28, 12, tzinfo=UTC),
    )
    keys = await _fee_keys(db, client_id)
    assert len(keys) == 2
    assert keys[1] == f"subscription:{client_id}:{feb28.isoformat()}"
    assert await balances(db, client_id) == {"EUR": 3_000, "USD": 0}
    # The same period's fee again (say a stale job) is a ledger no-op.
    async with db.transaction() as session:
        sub = await session.scalar(select(Subscription).where(Subscription.client_id == client_id))
        assert sub is not None
        sub.current_period_start, sub.current_period_end = jan31, feb28
    async with db.transaction() as session:
        assert await subs.renew_due(session, now) == 1
    assert len(await _fee_keys(db, client_id)) == 2
    assert await balances(db, client_id) == {"EUR": 3_000, "USD": 0}
    await ledger_ok(db)


async def test_renewal_follows_a_plan_change_and_retries_past_due(db: Database) -> None:
    await make_plan(db, monthly_fee=1_000, is_default=True)
    dearer = await make_plan(db, monthly_fee=3_000)
    client_id = await new_client(db, eur=1_000)
    await _ensure(db, client_id)
    start = datetime(2027, 5, 10, tzinfo=UTC)
    await _start_at(db, client_id, start)
    async with db.transaction() as session:
        (await load(session, client_id)).plan_id = dearer.id  # e.g. set in the admin
    due = datetime(2027, 6, 10, 0, 0, 1, tzinfo=UTC)
    async with db.transaction() as session:
        assert await subs.renew_due(session, due) == 0
    sub = await _sub(db, client_id)
    assert sub.status == "past_due"
    # Retried hourly, not on every pass.
    await fund(db, client_id, "EUR", 3_000)
    async with db.transaction() as session:
        assert await subs.renew_due(session, due + timedelta(minutes=5)) == 0
    later = due + timedelta(hours=2)
    async with db.transaction() as session:
        assert await subs.renew_due(session, later) == 1
    sub = await _sub(db, client_id)
    assert (sub.status, sub.plan_id, sub.fee_charged) == ("active", dearer.id, 3_000)
    assert sub.current_period_start == later
    assert await balances(db, client_id) == {"EUR": 0, "USD": 0}  # 10.00 first, then 30.00


async def test_concurrent_renewals_charge_once(db: Database) -> None:
    await make_plan(db, monthly_fee=100, is_default=True)
    ids = [await new_client(db, eur=1_000) for _ in range(6)]
    for client_id in ids:
        await _ensure(db, client_id)
        await _start_at(db, client_id, datetime(2027, 1, 1, tzinfo=UTC))
    now = datetime(2027, 2, 1, 0, 0, 1, tzinfo=UTC)

    async def run() -> int:
        async with db.transaction() as session:
            return await subs.renew_due(session, now)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert sum(results) == len(ids)
    for client_id in ids:
        assert len(await _fee_keys(db, client_id)) == 2
        assert await balances(db, client_id) == {"EUR": 800, "USD": 0}
    await ledger_ok(db)
