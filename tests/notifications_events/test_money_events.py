"""The money's notifications: a top-up credited, a subscription renewed or past due, and a
wallet falling below the client's threshold (once per crossing, re-armed above it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.clients import service as clients
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.time import iso
from paywarden.models import LedgerTransaction, Order, Subscription
from paywarden.orders import service as orders
from paywarden.subscriptions import service as subs
from paywarden.subscriptions.service import add_month
from paywarden.wallets import service as wallets
from tests.card_transactions.conftest import (
    event,
    send,
    tx_data,
)
from tests.notifications_events.conftest import (
    bought,
    kinds,
    notifications,
    one,
    reachable,
    rows_in,
)
from tests.subscriptions.conftest import OPERATOR, fund, load, make_plan, new_client
from tests.topups.helpers import BASE_URL, confirm, create_topup

USDT = 1_000_000


async def test_a_credited_topup_is_told_with_what_arrived(app: FastAPI, db: Database) -> None:
    await make_plan(db, monthly_fee=0, topup_fee_bps=150, is_default=True)  # 1.5 %
    client_id = await new_client(db)
    await reachable(db, client_id)
    made = await create_topup(app, client_id, 25 * USDT)
    await confirm(db, made.order_id, 25 * USDT)
    note = await one(db, client_id, "topup_credited")
    assert note.event_key == f"topup_credited:{made.topup.id}"
    assert note.params == {"amount": 2_462, "currency": "USD", "usdt": 25 * USDT}
    assert await kinds(db, client_id) == ["topup_credited"]  # the free plan: nothing renewed


async def _confirm_then_fail(db: Database, order_id: uuid.UUID, client_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order.amount_received = 5 * USDT
        await orders.transition(session, order, "confirmed", "confirmed", base_url=BASE_URL)
        assert [n.kind for n in await rows_in(session, client_id)] == ["topup_credited"]
        raise RuntimeError("the scanner's pass failed after the credit")


async def test_a_credit_rolled_back_leaves_no_notification(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    await reachable(db, client_id)
    made = await create_topup(app, client_id, 5 * USDT)
    with pytest.raises(RuntimeError):
        await _confirm_then_fail(db, made.order_id, client_id)
    assert await notifications(db, client_id) == []
    await confirm(db, made.order_id, 5 * USDT)  # the next pass credits, and tells
    assert await kinds(db, client_id) == ["topup_credited"]


# Subscriptions


async def _sub(db: Database, client_id: uuid.UUID) -> Subscription:
    async with db.transaction() as session:
        row = await session.scalar(select(Subscription).where(Subscription.client_id == client_id))
        assert row is not None
        return row


async def _paid_until(db: Database, client_id: uuid.UUID, end: datetime) -> Subscription:
    """The client's subscription, paid for the month ending at `end`."""
    async with db.transaction() as session:
        await subs.ensure(session, await load(session, client_id))
        sub = await session.scalar(select(Subscription).where(Subscription.client_id == client_id))
        assert sub is not None
        sub.current_period_start = end - timedelta(days=30)
        sub.current_period_end = end
        return sub


async def _renew(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        return await subs.renew_due(session, now)


async def test_a_renewal_is_told_once_and_a_failed_one_once(db: Database) -> None:
    plan = await make_plan(db, "Pro", monthly_fee=1_000, is_default=True)
    client_id = await new_client(db, eur=2_500)  # the first fee, one renewal, then 5.00 left
    await reachable(db, client_id)
    first_end = datetime(2027, 1, 31, 12, tzinfo=UTC)
    sub = await _paid_until(db, client_id, first_end)
    now = datetime(2027, 2, 1, tzinfo=UTC)
    assert await _renew(db, now) == 1
    assert await _renew(db, now) == 0  # a second run
    renewed = await one(db, client_id, "subscription_renewed")
    assert renewed.event_key == f"subscription_renewed:{sub.id}:{iso(first_end)}"
    assert renewed.params == {
        "plan": plan.name,
        "amount": 1_000,
        "currency": "EUR",
        "next_at": iso(add_month(first_end)),
    }
    # The next period finds 5.00 EUR for a 10.00 fee: past due, told once however often retried.
    second_end = add_month(first_end)
    later = second_end + timedelta(seconds=1)
    for hours in (0, 2, 4):
        assert await _renew(db, later + timedelta(hours=hours)) == 0
    past_due = await one(db, client_id, "subscription_past_due")
    assert past_due.event_key == f"subscription_past_due:{sub.id}:{iso(second_end)}"
    assert past_due.params == {"plan": plan.name, "amount": 1_000, "currency": "EUR"}
    # Money arrives, the retry pays: renewed again, for the period that had lapsed.
    await fund(db, client_id, "EUR", 5_000)
    paid_at = later + timedelta(hours=8)
    assert await _renew(db, paid_at) == 1
    renewals = [n for n in await notifications(db, client_id) if n.kind == "subscription_renewed"]
    assert [n.event_key for n in renewals] == [
        f"subscription_renewed:{sub.id}:{iso(first_end)}",
        f"subscription_renewed:{sub.id}:{iso(second_end)}",
    ]
    assert renewals[1].params["next_at"] == iso(add_month(paid_at))


async def test_a_past_due_subscription_paid_by_a_topup_is_told_renewed(
    app: FastAPI, db: Database
) -> None:
    plan = await make_plan(db, "Plus", monthly_fee=1_000, is_default=True)
    client_id = await new_client(db, usd=0)
    await reachable(db, client_id)
    end = datetime(2027, 3, 10, tzinfo=UTC)
    async with db.transaction() as session:  # paid once, then a renewal found nothing
        sub = Subscription(
            client_id=client_id,
            plan_id=plan.id,
            status="past_due",
            fee_charged=1_000,
            current_period_start=end - timedelta(days=28),
            current_period_end=end,
        )
        session.add(sub)
        (await load(session, client_id)).plan_id = plan.id
    await fund(db, client_id, "EUR", 1_000)
    made = await create_topup(app, client_id, 5 * USDT)
    await confirm(db, made.order_id, 5 * USDT)
    assert sorted(await kinds(db, client_id)) == ["subscription_renewed", "topup_credited"]
    renewed = await one(db, client_id, "subscription_renewed")
    assert renewed.event_key == f"subscription_renewed:{sub.id}:{iso(end)}"


async def test_a_first_fee_never_paid_tells_nothing(db: Database) -> None:
    await make_plan(db, monthly_fee=1_000, is_default=True)
    client_id = await new_client(db)
    await reachable(db, client_id)
    async with db.transaction() as session:
        await subs.ensure(session, await load(session, client_id))  # pending: no funds
    assert await _renew(db, datetime.now(UTC) + timedelta(days=1)) == 0
    assert (await _sub(db, client_id)).status == "past_due"
    assert await notifications(db, client_id) == []


# Low balance


async def _move(
    db: Database, client_id: uuid.UUID, amount: int, currency: str = "EUR"
) -> uuid.UUID:
    """An operator's adjustment of the wallet by `amount`; the ledger transaction's id."""
    async with db.transaction() as session:
        entry = await wallets.adjust(
            session,
            client_id,
            currency,
            amount,
            idempotency_key=f"test:{uuid.uuid4()}",
            actor=OPERATOR,
        )
        return entry.id


async def _low_balances(db: Database, client_id: uuid.UUID) -> list[str]:
    return [n.event_key for n in await notifications(db, client_id) if n.kind == "low_balance"]


async def test_low_balance_is_told_once_per_crossing_and_rearmed_above(db: Database) -> None:
    client_id = await new_client(db, eur=10_000)
    await reachable(db, client_id, threshold=5_000)
    await _move(db, client_id, -3_000)  # 70.00: above
    assert await _low_balances(db, client_id) == []
    crossing = await _move(db, client_id, -3_000)  # 40.00: below
    note = await one(db, client_id, "low_balance")
    assert note.event_key == f"low_balance:{crossing}:EUR"
    assert note.params == {"currency": "EUR", "balance": 4_000, "threshold": 5_000}
    await _move(db, client_id, -1_000)  # still below: nothing more
    await _move(db, client_id, 500)
    await _move(db, client_id, -500)
    assert len(await _low_balances(db, client_id)) == 1
    await _move(db, client_id, 3_000)  # 60.00: above again, re-armed
    await _move(db, client_id, -1_000)  # exactly at the threshold: not below
    assert len(await _low_balances(db, client_id)) == 1
    again = await _move(db, client_id, -1)  # 49.99
    assert await _low_balances(db, client_id) == [
        f"low_balance:{crossing}:EUR",
        f"low_balance:{again}:EUR",
    ]


async def test_each_wallet_crosses_on_its_own(db: Database) -> None:
    client_id = await new_client(db, eur=2_000, usd=2_000)
    await reachable(db, client_id, threshold=1_000)
    usd = await _move(db, client_id, -1_500, "USD")
    assert await _low_balances(db, client_id) == [f"low_balance:{usd}:USD"]


async def test_no_threshold_or_no_telegram_no_message(db: Database) -> None:
    quiet = await new_client(db, eur=10_000)
    await reachable(db, quiet)  # no threshold
    await _move(db, quiet, -9_999)
    web = await new_client(db, eur=10_000)
    async with db.transaction() as session:  # a threshold, but no Telegram chat
        await clients.set_low_balance_threshold(session, await load(session, web), 5_000)
    await _move(db, web, -9_999)
    assert await notifications(db, quiet) == []
    assert await notifications(db, web) == []


async def _fall_then_fail(db: Database, client_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await wallets.adjust(
            session, client_id, "EUR", -6_000, idempotency_key="test:rolled-back", actor=OPERATOR
        )
        assert [n.kind for n in await rows_in(session, client_id)] == ["low_balance"]
        raise RuntimeError("the request failed after the posting")


async def test_a_fall_rolled_back_leaves_no_notification(db: Database) -> None:
    client_id = await new_client(db, eur=10_000)
    await reachable(db, client_id, threshold=5_000)
    with pytest.raises(RuntimeError):
        await _fall_then_fail(db, client_id)
    assert await notifications(db, client_id) == []


async def test_a_settled_purchase_takes_the_wallet_below(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer, tx_id = await bought(client, settings, db, 6_000, funds=10_000, threshold=5_000)
    assert await _low_balances(db, buyer.client_id) == []  # a hold: the balance unchanged
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 6_000)))
    async with db.transaction() as session:
        spend = await session.scalar(
            select(LedgerTransaction).where(LedgerTransaction.kind == "card_spend")
        )
        assert spend is not None
    assert await _low_balances(db, buyer.client_id) == [f"low_balance:{spend.id}:EUR"]


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, True, 12.5])
async def test_a_threshold_out_of_range_is_refused(db: Database, amount: object) -> None:
    client_id = await new_client(db)
    async with db.transaction() as session:
        client = await load(session, client_id)
        with pytest.raises(ValidationFailed) as refused:
            await clients.set_low_balance_threshold(session, client, amount)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.code) == (400, "VALIDATION_ERROR")
        assert "at most 100000.00" in refused.value.message
        await clients.set_low_balance_threshold(session, client, 10_000_000)
        await clients.set_low_balance_threshold(session, client, None)
        assert client.low_balance_threshold is None
