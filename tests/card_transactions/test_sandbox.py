"""Authorizations and webhooks end to end with the sandbox issuer, over real HTTP: the sandbox
asks our /authorize and sends our /webhooks, signed, as a real issuer would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.models import Card, Client, IssuerEvent
from paywarden.wallets import service as wallets
from tests.card_transactions.conftest import card_row, code_rows, ledger_ok, tx_row, wallet
from tests.issuer.stack import IssuerStack, issuer_stack, running_stack  # noqa: F401 - fixture
from tests.subscriptions.conftest import make_plan, new_client


async def _card(stack: IssuerStack, *, funds: int, fx_fee_bps: int = 0) -> tuple[uuid.UUID, Card]:
    """A funded client with a EUR card made at the sandbox (through the adapter) and our row."""
    plan = await make_plan(stack.db, fx_fee_bps=fx_fee_bps)
    client_id = await new_client(stack.db, eur=funds)
    async with stack.db.transaction() as session:
        card = Card(
            id=uuid.uuid4(),
            client_id=client_id,
            issuer="sandbox",
            issuer_card_id="pending",
            currency="EUR",
            monthly_limit=100_000,
            spent_this_month=0,
            status="active",
        )
        issued = await stack.adapter.create_card(
            currency="EUR", monthly_limit=100_000, label=None, reference=str(card.id)
        )
        card.issuer_card_id, card.last4 = issued.issuer_card_id, issued.last4
        client = await session.get(Client, client_id)
        assert client is not None
        client.plan_id = plan.id
        session.add(card)
    return client_id, card


async def _buy(stack: IssuerStack, card: Card, amount: str, **more: object) -> dict[str, object]:
    return await stack.simulate(
        "purchase",
        card_id=card.issuer_card_id,
        amount=amount,
        currency=more.pop("currency", "EUR"),
        merchant="Books Ltd",
        mcc="5942",
        country="IE",
        **more,
    )


async def test_purchase_settle_refund_duplicate(issuer_stack: IssuerStack) -> None:  # noqa: F811
    stack = issuer_stack
    client_id, card = await _card(stack, funds=10_000)
    bought = await _buy(stack, card, "30.00")
    assert (bought["approved"], bought["status"]) == (True, "approved")
    tx_id = str(bought["transaction_id"])
    assert (await tx_row(stack.db, tx_id)).status == "approved"
    assert (await wallet(stack.db, client_id)).reserved == 3_000

    settled = await stack.simulate("settle", transaction_id=tx_id)
    [settle_event] = settled["events"]
    tx = await tx_row(stack.db, tx_id)
    assert (tx.status, tx.settled_amount) == ("settled", 3_000)
    w = await wallet(stack.db, client_id)
    assert (w.balance, w.reserved) == (7_000, 0)

    await stack.simulate("duplicate", event_id=settle_event)  # the same event, re-sent
    assert (await wallet(stack.db, client_id)).balance == 7_000
    await stack.simulate("refund", transaction_id=tx_id, amount="10.00")
    tx = await tx_row(stack.db, tx_id)
    assert (tx.status, tx.refunded_amount) == ("refunded", 1_000)
    assert (await wallet(stack.db, client_id)).balance == 8_000
    async with stack.db.transaction() as session:
        assert await wallets.system_balance(session, "issuer_float", "EUR") == 2_000
        statuses = (await session.scalars(select(IssuerEvent.status))).all()
    assert set(statuses) == {"processed"}
    await ledger_ok(stack.db)


async def test_declines_reversals_and_expiry(issuer_stack: IssuerStack) -> None:  # noqa: F811
    stack = issuer_stack
    client_id, card = await _card(stack, funds=5_000)
    too_much = await _buy(stack, card, "50.01")
    assert (too_much["approved"], too_much["decline_reason"]) == (False, "insufficient_funds")
    first = await _buy(stack, card, "20.00")
    second = await _buy(stack, card, "10.00")
    await stack.simulate("reversal", transaction_id=first["transaction_id"])
    await stack.simulate("expire", transaction_id=second["transaction_id"])
    assert (await tx_row(stack.db, str(first["transaction_id"]))).status == "reversed"
    assert (await tx_row(stack.db, str(second["transaction_id"]))).status == "expired"
    w = await wallet(stack.db, client_id)
    assert (w.balance, w.reserved) == (5_000, 0)
    assert (await card_row(stack.db, card.id)).spent_this_month == 0
    await ledger_ok(stack.db)


async def test_3ds_codes_and_failures(issuer_stack: IssuerStack) -> None:  # noqa: F811
    stack = issuer_stack
    client_id, card = await _card(stack, funds=5_000)
    passed = await _buy(stack, card, "12.00", three_ds=True)
    assert passed["approved"] is True
    failed = await _buy(stack, card, "13.00", three_ds="fail")
    assert (failed["approved"], failed["decline_reason"]) == (False, "3ds_failed")
    codes = {c.issuer_reference: c for c in await code_rows(stack.db, client_id)}
    assert codes[str(passed["transaction_id"])].status == "used"
    assert codes[str(failed["transaction_id"])].status == "declined"
    assert all(c.code is None for c in codes.values())  # spent codes are cleared at once
    tx = await tx_row(stack.db, str(failed["transaction_id"]))
    assert (tx.status, tx.decline_reason) == ("declined", "3ds_failed")


async def test_out_of_order_settlement_is_booked_once(issuer_stack: IssuerStack) -> None:  # noqa: F811
    stack = issuer_stack
    client_id, card = await _card(stack, funds=5_000)
    outcome = await stack.simulate(
        "out-of-order", card_id=card.issuer_card_id, amount="25.00", currency="EUR"
    )
    tx = await tx_row(stack.db, str(outcome["transaction_id"]))
    assert (tx.status, tx.raw_code, tx.settled_amount) == ("settled", "forced_settlement", 2_500)
    w = await wallet(stack.db, client_id)
    assert (w.balance, w.reserved) == (2_500, 0)  # booked once: no hold from the late request
    await ledger_ok(stack.db)


async def test_many_purchases_at_once_never_overdraw(issuer_stack: IssuerStack) -> None:  # noqa: F811
    stack = issuer_stack
    client_id, card = await _card(stack, funds=5_000)
    outcomes = await asyncio.gather(*(_buy(stack, card, "7.00") for _ in range(12)))
    assert sum(1 for o in outcomes if o["approved"]) == 7  # floor(50.00 / 7.00)
    assert (await wallet(stack.db, client_id)).available == 100
    async with stack.db.transaction() as session:
        n = await session.scalar(select(func.count()).select_from(IssuerEvent))
    assert n == 0  # nothing settled yet (SANDBOX_SETTLE_SECONDS=0)


async def test_the_sandbox_settles_on_its_own(make_settings: Callable[..., Settings]) -> None:
    """SANDBOX_SETTLE_SECONDS > 0: the settlement webhook comes by itself and posts the hold."""
    async with running_stack(make_settings, sandbox_settle_seconds=0.2) as stack:
        client_id, card = await _card(stack, funds=5_000)
        bought = await _buy(stack, card, "15.00")
        assert bought["approved"] is True
        for _ in range(100):
            if (await tx_row(stack.db, str(bought["transaction_id"]))).status == "settled":
                break
            await asyncio.sleep(0.05)
        w = await wallet(stack.db, client_id)
        assert (w.balance, w.reserved) == (3_500, 0)
