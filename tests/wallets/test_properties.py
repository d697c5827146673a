"""Property: no sequence of top-ups, fees, conversions, holds and adjustments breaks the ledger.

Each example makes its own clients and idempotency keys in the test's database and runs every
operation in its own database transaction, following a plain model of what should happen. After
each example: every transaction sums to zero per currency, no client wallet is below zero
available, every cached balance equals its postings' sum, and the wallets equal the model.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paywarden.audit.context import Actor
from paywarden.kit.db import Database
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import InsufficientFunds
from paywarden.wallets.service import Leg
from tests.wallets.conftest import create_client

CURRENCIES = ("EUR", "USD")
OPERATOR = Actor(label="ops@example.com")

amounts = st.integers(min_value=1, max_value=50_000)
who = st.integers(min_value=0, max_value=1)
currency = st.sampled_from(CURRENCIES)
operations = st.one_of(
    st.tuples(st.just("topup"), who, currency, amounts),
    st.tuples(st.just("fee"), who, currency, amounts),
    st.tuples(st.just("convert"), who, currency, amounts, st.decimals("0.5", "2", places=4)),
    st.tuples(st.just("hold"), who, currency, amounts),
    st.tuples(st.just("post_hold"), st.integers(0, 20), st.integers(1, 100)),  # % of the hold
    st.tuples(st.just("void_hold"), st.integers(0, 20)),
    st.tuples(st.just("adjust"), who, currency, st.integers(-50_000, 50_000).filter(bool)),
    st.tuples(st.just("replay"), st.integers(0, 50)),
)


@dataclass
class Model:
    balance: dict[tuple[int, str], int] = field(default_factory=dict)
    held: dict[tuple[int, str], int] = field(default_factory=dict)
    holds: list[tuple[uuid.UUID, tuple[int, str], int]] = field(default_factory=list)
    open_holds: set[uuid.UUID] = field(default_factory=set)
    keys: list[tuple[str, str]] = field(default_factory=list)  # (key, kind)

    def available(self, wallet: tuple[int, str]) -> int:
        return self.balance.get(wallet, 0) - self.held.get(wallet, 0)

    def move(self, wallet: tuple[int, str], amount: int) -> None:
        self.balance[wallet] = self.balance.get(wallet, 0) + amount


async def _run(db: Database, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    run = uuid.uuid4().hex[:8]
    clients = [await create_client(db) for _ in range(2)]
    model = Model()
    for n, op in enumerate(ops):
        key = f"{run}:{n}"
        async with db.transaction() as session:

            async def account(i: int, c: str) -> uuid.UUID:
                return await wallets.wallet(session, clients[i], c)

            async def system(code: str, c: str) -> uuid.UUID:
                return await wallets.system_account(session, code, c, spread_key=key)  # noqa: B023

            kind = op[0]
            try:
                if kind == "topup":
                    _, i, c, amount = op
                    await wallets.post(
                        session,
                        "topup",
                        key,
                        [
                            Leg(await account(i, c), c, amount),
                            Leg(await system("usdt_received", c), c, -amount),
                        ],
                    )
                    model.move((i, c), amount)
                    model.keys.append((key, "topup"))
                elif kind in ("fee", "adjust"):
                    _, i, c, amount = op
                    debit = amount if kind == "fee" else -amount
                    expect_ok = debit <= 0 or model.available((i, c)) >= debit
                    try:
                        if kind == "fee":
                            await wallets.post(
                                session,
                                "subscription_fee",
                                key,
                                [
                                    Leg(await account(i, c), c, -amount),
                                    Leg(await system("fee_revenue", c), c, amount),
                                ],
                            )
                        else:
                            await wallets.adjust(
                                session,
                                clients[i],
                                c,
                                amount,
                                idempotency_key=key,
                                actor=OPERATOR,
                            )
                    except InsufficientFunds:
                        assert not expect_ok
                        raise
                    assert expect_ok
                    model.move((i, c), -debit)
                    model.keys.append((key, "subscription_fee" if kind == "fee" else "adjustment"))
                elif kind == "convert":
                    _, i, source, amount, rate = op
                    target = "USD" if source == "EUR" else "EUR"
                    got = int((Decimal(amount) * rate).to_integral_value(ROUND_DOWN))
                    legs = [
                        Leg(await account(i, source), source, -amount),
                        Leg(await system("fx", source), source, amount),
                    ]
                    if got:
                        legs += [
                            Leg(await system("fx", target), target, -got),
                            Leg(await account(i, target), target, got),
                        ]
                    expect_ok = model.available((i, source)) >= amount
                    try:
                        await wallets.post(session, "fx", key, legs)
                    except InsufficientFunds:
                        assert not expect_ok
                        raise
                    assert expect_ok
                    model.move((i, source), -amount)
                    model.move((i, target), got)
                    model.keys.append((key, "fx"))
                elif kind == "hold":
                    _, i, c, amount = op
                    expect_ok = model.available((i, c)) >= amount
                    try:
                        hold = await wallets.place_hold(session, await account(i, c), amount)
                    except InsufficientFunds:
                        assert not expect_ok
                        raise
                    assert expect_ok
                    model.holds.append((hold.id, (i, c), amount))
                    model.open_holds.add(hold.id)
                    model.held[(i, c)] = model.held.get((i, c), 0) + amount
                elif kind == "post_hold" and model.open_holds:
                    open_ = [h for h in model.holds if h[0] in model.open_holds]
                    hold_id, wallet, held = open_[op[1] % len(open_)]
                    amount = max(1, held * op[2] // 100)
                    issuer = await system("issuer_float", wallet[1])
                    await wallets.post_hold(
                        session, hold_id, amount, issuer, kind="card_spend", idempotency_key=key
                    )
                    model.open_holds.discard(hold_id)
                    model.held[wallet] -= held
                    model.move(wallet, -amount)
                    model.keys.append((key, "card_spend"))
                elif kind == "void_hold" and model.open_holds:
                    open_ = [h for h in model.holds if h[0] in model.open_holds]
                    hold_id, wallet, held = open_[op[1] % len(open_)]
                    await wallets.void_hold(session, hold_id)
                    model.open_holds.discard(hold_id)
                    model.held[wallet] -= held
                elif kind == "replay" and model.keys:
                    # A replayed key (e.g. a second order.confirmed) changes nothing.
                    old, old_kind = model.keys[op[1] % len(model.keys)]
                    entry = await wallets.post(
                        session,
                        old_kind,
                        old,
                        [
                            Leg(await account(0, "USD"), "USD", 1),
                            Leg(await system("usdt_received", "USD"), "USD", -1),
                        ],
                    )
                    assert entry.replayed
            except InsufficientFunds:
                await session.rollback()

    async with db.transaction() as session:
        report = await wallets.check(session)
        assert report.ok, report.lines()
        for i, client in enumerate(clients):
            for c, b in (await wallets.balances(session, client)).items():
                assert b.balance == model.balance.get((i, c), 0)
                assert b.reserved == model.held.get((i, c), 0)
                assert b.available >= 0


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=25))
async def test_no_sequence_breaks_the_invariants(ledger: Database, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    await _run(ledger, ops)


# ---- the same invariants through the services: top-ups, subscriptions, conversions --------

PLANS = (  # (monthly_fee, topup_fee_bps, fx_fee_bps)
    (0, 0, 0),
    (999, 150, 75),
    (5_000, 10_000, 10_000),  # everything taken as fees: a zero credit must still balance
)
service_operations = st.one_of(
    st.tuples(
        st.just("usdt_topup"),
        who,
        st.integers(1, 60_000_000),  # micro-USDT received, sub-cent amounts included
        st.sampled_from(("1", "0.9985", "1.0003")),
    ),
    st.tuples(st.just("select_plan"), who, st.integers(0, len(PLANS) - 1)),
    st.tuples(st.just("assign_plan"), who, st.integers(0, len(PLANS) - 1)),
    st.tuples(st.just("renew"), st.integers(0, 70)),  # days from now
    st.tuples(st.just("convert"), who, currency, amounts, st.integers(900_000, 1_300_000)),
    st.tuples(st.just("hold"), who, currency, amounts),
    st.tuples(st.just("post_hold"), st.integers(0, 20), st.integers(1, 100)),
    st.tuples(st.just("void_hold"), st.integers(0, 20)),
    st.tuples(st.just("adjust"), who, currency, st.integers(-50_000, 50_000).filter(bool)),
    st.tuples(st.just("replay"), st.integers(0, 50)),
)


async def _service_run(app: Any, make_settings: Any, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    from datetime import timedelta

    from sqlalchemy import select

    from paywarden.kit.errors import AppError
    from paywarden.kit.time import utcnow
    from paywarden.models import Client, Order, Plan
    from paywarden.orders import service as orders
    from paywarden.plans import service as plans
    from paywarden.subscriptions import service as subs
    from paywarden.topups import service as topups
    from paywarden.wallets import conversion

    db: Database = app.state.db
    run = uuid.uuid4().hex[:8]
    clients = [await create_client(db) for _ in range(2)]
    async with db.transaction() as session:
        plan_ids = []
        for n, (fee, topup_bps, fx_bps) in enumerate(PLANS):
            plan = Plan(
                name=f"{run}-{n}",
                monthly_fee=fee,
                cards_included=1,
                max_active_cards=2,
                card_issue_fee=100,
                topup_fee_bps=topup_bps,
                fx_fee_bps=fx_bps,
            )
            session.add(plan)
            await session.flush()
            plan_ids.append(plan.id)
    orders_paid: list[uuid.UUID] = []
    holds: list[uuid.UUID] = []

    async def snapshot() -> list[tuple[int, int]]:
        async with db.transaction() as session:
            out = []
            for client_id in clients:
                for b in (await wallets.balances(session, client_id)).values():
                    assert b.available >= 0, b
                    out.append((b.balance, b.reserved))
            return out

    for op in ops:
        kind = op[0]
        before = await snapshot()
        try:
            async with db.transaction() as session:

                async def client(i: int) -> Client:
                    row = await session.get(Client, clients[i])
                    assert row is not None
                    return row

                if kind == "usdt_topup":
                    _, i, received, rate = op
                    topups.configure(make_settings(usdt_usd_rate=rate))
                    made = await topups.create(
                        session, app.state.gateway, await client(i), USDT_MIN, base_url="x"
                    )
                    order = await session.get(Order, made.order_id)
                    assert order is not None
                    order.amount_received = received
                    await orders.transition(session, order, "confirmed", "test", base_url="x")
                    orders_paid.append(order.id)
                elif kind in ("select_plan", "assign_plan"):
                    _, i, p = op
                    if kind == "select_plan":
                        await subs.select_plan(session, await client(i), plan_ids[p])
                    else:
                        await subs.assign_plan(
                            session, await client(i), plan_ids[p], OPERATOR, None
                        )
                elif kind == "renew":
                    await subs.renew_due(session, utcnow() + timedelta(days=op[1]))
                elif kind == "convert":
                    _, i, source, amount, micros = op
                    await plans.set_rate(session, micros, OPERATOR)
                    target = "USD" if source == "EUR" else "EUR"
                    await conversion.convert(session, await client(i), source, target, amount)
                elif kind == "hold":
                    _, i, c, amount = op
                    account = await wallets.wallet(session, clients[i], c)
                    holds.append((await wallets.place_hold(session, account, amount)).id)
                elif kind in ("post_hold", "void_hold") and holds:
                    hold_id = holds[op[1] % len(holds)]
                    if kind == "void_hold":
                        await wallets.void_hold(session, hold_id)
                    else:
                        from paywarden.models import LedgerHold

                        hold = await session.get(LedgerHold, hold_id)
                        assert hold is not None
                        account = await wallets.repo.get_account(session, hold.account_id)
                        assert account is not None
                        issuer = await wallets.system_account(
                            session, "issuer_float", account.currency
                        )
                        await wallets.post_hold(
                            session,
                            hold_id,
                            max(1, hold.amount * op[2] // 100),
                            issuer,
                            kind="card_spend",
                            idempotency_key=f"{run}:spend:{hold_id}",
                        )
                elif kind == "adjust":
                    _, i, c, amount = op
                    await wallets.adjust(
                        session,
                        clients[i],
                        c,
                        amount,
                        idempotency_key=f"{run}:adj:{uuid.uuid4()}",
                        actor=OPERATOR,
                    )
                elif kind == "replay" and orders_paid:
                    # A second order.confirmed for a credited top-up changes nothing.
                    order = await session.get(Order, orders_paid[op[1] % len(orders_paid)])
                    assert order is not None
                    await topups.on_order_confirmed(session, order)
        except AppError as exc:
            # Refusals (no funds, too small, a closed hold) must leave everything as it was.
            assert exc.code in EXPECTED_REFUSALS, exc.code  # noqa: PT017
            assert await snapshot() == before
            continue
        if kind == "replay":
            assert await snapshot() == before

    async with db.transaction() as session:
        report = await wallets.check(session)
        assert report.ok, report.lines()
        left = await session.scalars(select(Client.id).where(Client.id.in_(clients)))
        assert len(left.all()) == 2


USDT_MIN = 1_000_000
# FX_RATE_NOT_SET: a plan fee only the USD wallet could pay before any rate is set.
EXPECTED_REFUSALS = {"INSUFFICIENT_FUNDS", "VALIDATION_ERROR", "HOLD_NOT_ACTIVE", "FX_RATE_NOT_SET"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(service_operations, min_size=1, max_size=15))
async def test_no_sequence_of_service_calls_breaks_the_invariants(
    app: Any,
    make_settings: Any,
    ops: list[tuple],  # type: ignore[type-arg]
) -> None:
    await _service_run(app, make_settings, ops)
