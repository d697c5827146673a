"""Top-ups: an order of the internal merchant, credited to the USD wallet exactly once on
confirmation (rate, rounding, plan fee), expired with the order; the internal merchant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.kit.pagination import PageQuery
from paywarden.kit.time import utcnow
from paywarden.models import LedgerPosting, LedgerTransaction, Merchant, Order, Subscription
from paywarden.orders import service as orders
from paywarden.subscriptions import service as subs
from paywarden.topups import service as topups
from paywarden.topups.service import credit_for
from tests.conftest import start_app
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    fund,
    ledger_ok,
    load,
    make_plan,
    new_client,
    system_balance,
)
from tests.topups.helpers import BASE_URL, confirm, create_topup, topup_row

USDT = 1_000_000


async def _internal(db: Database) -> Merchant:
    async with db.transaction() as session:
        rows = (await session.scalars(select(Merchant).where(Merchant.is_internal))).all()
        assert len(rows) == 1
        return rows[0]


async def test_the_internal_merchant_is_made_once_and_not_editable(
    app: FastAPI, db: Database, admin_client: httpx.AsyncClient, settings: Settings
) -> None:
    merchant = await _internal(db)
    assert (merchant.name, merchant.webhook_url, merchant.is_active) == (
        "PayWarden Cards",
        None,
        True,
    )
    # Another replica starting on the same database finds it.
    _other, lifespan = await start_app(settings)
    await lifespan.__aexit__(None, None, None)
    assert (await _internal(db)).id == merchant.id
    url = f"/api/v1/admin/merchants/{merchant.id}"
    edit = await admin_client.put(url, json={"name": "Mine now"})
    assert (edit.status_code, edit.json()["code"]) == (409, "INVALID_STATE")
    rotate = await admin_client.post(f"{url}/rotate-api-key")
    assert (rotate.status_code, rotate.json()["code"]) == (409, "INVALID_STATE")
    listed = (await admin_client.get("/api/v1/admin/merchants")).json()["data"]
    assert str(merchant.id) not in [m["id"] for m in listed]
    assert (await _internal(db)).name == "PayWarden Cards"


async def test_create_makes_an_order_of_the_internal_merchant(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 25 * USDT)
    merchant = await _internal(db)
    async with db.transaction() as session:
        order = await session.get(Order, made.order_id)
        assert order is not None
        assert order.merchant_id == merchant.id
        assert order.external_id == f"topup-{made.topup.id}"
        assert (order.amount_expected, order.status, order.address) == (
            25 * USDT,
            "pending",
            made.address,
        )
        assert order.callback_url is None
    assert made.address.startswith("T")
    assert made.amount == 25 * USDT
    assert made.checkout_url == f"{BASE_URL}/pay/{made.order_id}"
    assert made.expires_at > utcnow()
    row = await topup_row(db, made.topup.id)
    assert (row.client_id, row.order_id, row.status, row.amount_usdt) == (
        client_id,
        made.order_id,
        "pending",
        25 * USDT,
    )
    async with db.transaction() as session:
        page = await topups.list_for_client(session, client_id, PageQuery(page=1, limit=10))
        assert [t.id for t in page.items] == [made.topup.id]
        assert page.total == 1
        latest = await topups.latest_for_client(session, client_id)
        assert latest is not None
        assert latest.id == made.topup.id


async def test_create_refusals(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    for micro in (0, USDT - 1, 100_000 * USDT + 1):
        with pytest.raises(AppError) as refused:
            await create_topup(app, client_id, micro)
        assert (refused.value.status, refused.value.code) == (400, "VALIDATION_ERROR")
    await create_topup(app, client_id, 100_000 * USDT)  # the maximum itself is fine
    async with db.transaction() as session:
        (await load(session, client_id)).status = "banned"
    with pytest.raises(AppError) as banned:
        await create_topup(app, client_id, 5 * USDT)
    assert (banned.value.status, banned.value.code) == (403, "CLIENT_BANNED")


async def test_confirmation_credits_usd_less_the_plan_fee(app: FastAPI, db: Database) -> None:
    await make_plan(db, monthly_fee=0, topup_fee_bps=150, is_default=True)  # 1.5 %
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 25 * USDT)
    await confirm(db, made.order_id, 25 * USDT)
    # 25.00 USD gross, fee ceil(0.375) = 0.38, net 24.62.
    assert await balances(db, client_id) == {"EUR": 0, "USD": 2_462}
    row = await topup_row(db, made.topup.id)
    assert (row.status, row.received_usdt, row.gross_cents, row.fee_cents, row.credited_cents) == (
        "credited",
        25 * USDT,
        2_500,
        38,
        2_462,
    )
    assert row.credited_at is not None
    assert row.transaction_id is not None
    assert await system_balance(db, "fee_revenue", "USD") == 38
    assert await system_balance(db, "usdt_received", "USDT") == -25 * USDT
    assert await system_balance(db, "rounding", "USDT") == 0
    async with db.transaction() as session:
        tx = await session.get(LedgerTransaction, row.transaction_id)
        assert tx is not None
        assert (tx.kind, tx.idempotency_key, tx.reference_type, tx.reference_id) == (
            "topup",
            f"topup:{made.order_id}",
            "order",
            str(made.order_id),
        )
        legs = (
            await session.execute(
                select(LedgerPosting.currency, func.sum(LedgerPosting.amount))
                .where(LedgerPosting.transaction_id == tx.id)
                .group_by(LedgerPosting.currency)
            )
        ).all()
        assert dict(legs) == {"USD": 0, "USDT": 0}
    await ledger_ok(db)


async def test_overpayment_credits_what_arrived_and_the_sub_cent_goes_to_rounding(
    app: FastAPI, db: Database
) -> None:
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 10 * USDT)
    await confirm(db, made.order_id, 10_123_456)
    assert await balances(db, client_id) == {"EUR": 0, "USD": 1_012}
    assert await system_balance(db, "rounding", "USDT") == 3_456
    row = await topup_row(db, made.topup.id)
    assert (row.received_usdt, row.gross_cents, row.fee_cents, row.credited_cents) == (
        10_123_456,
        1_012,
        0,
        1_012,
    )
    await ledger_ok(db)


async def test_the_usdt_usd_rate_applies_rounded_down(
    app: FastAPI, db: Database, make_settings: Callable[..., Settings]
) -> None:
    topups.configure(make_settings(usdt_usd_rate="0.9985"))
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 7 * USDT)
    await confirm(db, made.order_id, 7 * USDT)
    # 7 x 0.9985 = 6.9895 USD -> 6.98; 6.98 USD is 6.990486 USDT: 9_514 micro-USDT left over.
    assert await balances(db, client_id) == {"EUR": 0, "USD": 698}
    assert await system_balance(db, "rounding", "USDT") == 9_514
    await ledger_ok(db)


def test_credit_arithmetic() -> None:
    one = Decimal("1")
    assert credit_for(1, one, 0) == topups.Credit(0, 0, 1)  # less than a cent: all rounding
    assert credit_for(10_000, one, 0) == topups.Credit(1, 0, 0)
    assert credit_for(10_000, one, 10_000) == topups.Credit(1, 1, 0)  # a 100 % fee
    assert credit_for(100 * USDT, Decimal("1.25"), 99).net == 12_500 - 124  # ceil(123.75)


async def test_a_replayed_confirmation_credits_once(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 5 * USDT)
    await confirm(db, made.order_id, 5 * USDT)
    for _ in range(2):
        async with db.transaction() as session:
            order = await session.get(Order, made.order_id)
            assert order is not None
            await topups.on_order_confirmed(session, order)
    # A reorg round trip: back to confirming, confirmed again.
    async with db.transaction() as session:
        order = await session.get(Order, made.order_id)
        assert order is not None
        await orders.transition(session, order, "confirming", "test_reorg", base_url=BASE_URL)
    await confirm(db, made.order_id, 5 * USDT)
    assert await balances(db, client_id) == {"EUR": 0, "USD": 500}
    assert await count_kind(db, "topup") == 1
    await ledger_ok(db)


async def test_concurrent_confirmations_credit_once(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    made = [await create_topup(app, client_id, 3 * USDT) for _ in range(3)]
    for m in made:
        async with db.transaction() as session:
            order = await session.get(Order, m.order_id)
            assert order is not None
            order.amount_received = 3 * USDT
            order.status = "confirmed"

    async def hook(order_id: uuid.UUID) -> None:
        async with db.transaction() as session:
            order = await session.get(Order, order_id)
            assert order is not None
            await topups.on_order_confirmed(session, order)

    await asyncio.gather(*(hook(m.order_id) for m in made for _ in range(4)))
    assert await balances(db, client_id) == {"EUR": 0, "USD": 900}
    assert await count_kind(db, "topup") == 3
    await ledger_ok(db)


async def test_an_expired_order_expires_the_topup_and_credits_nothing(
    app: FastAPI, db: Database
) -> None:
    client_id = await new_client(db)
    made = await create_topup(app, client_id, 20 * USDT)
    async with db.transaction() as session:
        order = await session.get(Order, made.order_id)
        assert order is not None
        order.amount_received = 5 * USDT  # underpaid, then it ran out of time
        order.expires_at = utcnow()
    async with db.transaction() as session:
        assert await orders.expire_due(session, app.state.gateway.pool, base_url=BASE_URL) == 1
    assert (await topup_row(db, made.topup.id)).status == "expired"
    assert await balances(db, client_id) == {"EUR": 0, "USD": 0}
    assert await count_kind(db, "topup") == 0


async def test_a_landing_topup_pays_a_pending_subscription(app: FastAPI, db: Database) -> None:
    await make_plan(db, monthly_fee=900, is_default=True)
    client_id = await new_client(db)
    async with db.transaction() as session:
        await subs.ensure(session, await load(session, client_id))
    async with db.transaction() as session:
        assert (await session.scalar(select(Subscription.status))) == "pending"
    made = await create_topup(app, client_id, 15 * USDT)
    async with db.transaction() as session:
        from paywarden.plans import service as plans
        from tests.subscriptions.conftest import OPERATOR

        await plans.set_rate(session, 1_100_000, OPERATOR)
    await confirm(db, made.order_id, 15 * USDT)
    # 15.00 USD arrived; 9.00 EUR at 1.10 = 9.90 USD paid the plan.
    assert await balances(db, client_id) == {"EUR": 0, "USD": 510}
    async with db.transaction() as session:
        sub = await session.scalar(select(Subscription))
        assert sub is not None
        assert (sub.status, sub.fee_currency) == ("active", "USD")
    await fund(db, client_id, "EUR", 1)  # unrelated money later changes nothing
    assert await count_kind(db, "subscription_fee") == 1
    await ledger_ok(db)
