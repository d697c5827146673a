"""The sandbox's simulator against a receiver standing in for our inbound routes, over HTTP:
signed authorization requests, webhooks, settlement after the delay, balances drawn down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from paywarden.issuer import signing
from paywarden.issuer.base import IssuedCard
from tests.issuer.conftest import Receiver, Sandbox, sandbox_pair

OPENING = 1_000_000_00


async def new_card(sandbox: Sandbox, currency: str = "EUR", reference: str = "c1") -> IssuedCard:
    return await sandbox.adapter.create_card(
        currency=currency, monthly_limit=100_000, label=None, reference=reference
    )


async def test_a_purchase_is_authorized_over_signed_http(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "purchase",
        card_id=card.issuer_card_id,
        amount="30.00",
        currency="EUR",
        merchant="Coffee Corner",
        mcc="5814",
        country="DE",
    )
    assert answer["approved"] is True
    assert answer["status"] == "approved"
    assert answer["decline_reason"] is None
    [request] = receiver.of("authorize")  # the receiver verified its signature already
    assert signing.SIGNATURE_HEADER.lower() in request.headers
    parsed = receiver.adapter.parse_authorization(request.json())
    assert parsed.issuer_transaction_id == answer["transaction_id"]
    assert parsed.issuer_card_id == card.issuer_card_id
    assert (parsed.amount, parsed.currency) == (3000, "EUR")
    assert (parsed.merchant, parsed.mcc, parsed.country) == ("Coffee Corner", "5814", "DE")
    assert parsed.three_ds is False
    # The program balance funds the authorization at once.
    assert (await sandbox.adapter.balances())["EUR"] == OPENING - 3000
    assert receiver.of("webhooks") == []  # settlement waits (SANDBOX_SETTLE_SECONDS=0: by hand)


async def test_a_foreign_currency_purchase_is_billed_in_the_card_currency(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox, "EUR")
    await sandbox.simulate("purchase", card_id=card.issuer_card_id, amount="50.00", currency="USD")
    parsed = receiver.adapter.parse_authorization(receiver.of("authorize")[0].json())
    assert (parsed.merchant_amount, parsed.merchant_currency) == (5000, "USD")
    assert (parsed.amount, parsed.currency) == (4600, "EUR")  # at the sandbox's 0.92


async def test_an_approved_purchase_settles_after_the_delay() -> None:
    async with sandbox_pair(settle_seconds=0.2) as (sandbox, receiver):
        card = await new_card(sandbox)
        answer = await sandbox.simulate(
            "purchase", card_id=card.issuer_card_id, amount="12.50", currency="EUR"
        )
        assert receiver.of("webhooks") == []
        for _ in range(100):
            if receiver.of("webhooks"):
                break
            await asyncio.sleep(0.02)
        [webhook] = receiver.of("webhooks")
        event = receiver.adapter.parse_event(webhook.json())
        assert event.kind == "transaction.settled"
        assert event.issuer_transaction_id == answer["transaction_id"]
        assert event.amount == 1250
        tx = sandbox.state.transactions[answer["transaction_id"]]
        assert tx.status == "settled"
        assert (await sandbox.adapter.balances())["EUR"] == OPENING - 1250


async def test_our_decline_is_reported_with_its_reason(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    receiver.decline = "insufficient_funds"
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="30.00", currency="EUR"
    )
    assert answer["approved"] is False
    assert (answer["status"], answer["decline_reason"], answer["response_code"]) == (
        "declined",
        "insufficient_funds",
        "51",
    )
    assert receiver.of("webhooks") == []  # we declined: nothing to tell us
    assert (await sandbox.adapter.balances())["EUR"] == OPENING


async def test_a_frozen_card_is_still_asked_about(sandbox: Sandbox, receiver: Receiver) -> None:
    card = await new_card(sandbox)
    await sandbox.adapter.freeze(card.issuer_card_id)
    receiver.decline = "card_inactive"
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="1.00", currency="EUR"
    )
    assert len(receiver.of("authorize")) == 1
    assert answer["decline_reason"] == "card_inactive"


async def test_a_closed_card_is_declined_by_the_issuer_without_asking(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    await sandbox.adapter.close(card.issuer_card_id)
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="1.00", currency="EUR"
    )
    assert (answer["approved"], answer["decline_reason"], answer["response_code"]) == (
        False,
        "card_inactive",
        "14",
    )
    assert receiver.of("authorize") == []
    [webhook] = receiver.of("webhooks")
    event = receiver.adapter.parse_event(webhook.json())
    assert (event.kind, event.decline_reason, event.raw_code) == (
        "transaction.declined",
        "card_inactive",
        "14",
    )


async def test_3ds_sends_a_code_before_the_authorization(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    before = datetime.now(UTC)
    answer = await sandbox.simulate(
        "purchase",
        card_id=card.issuer_card_id,
        amount="80.00",
        currency="EUR",
        merchant="Shop",
        three_ds=True,
    )
    assert [r.path.rsplit("/", 1)[1] for r in receiver.received] == ["webhooks", "authorize"]
    event = receiver.adapter.parse_event(receiver.received[0].json())
    assert event.kind == "3ds.code"
    assert event.code is not None
    assert len(event.code) == 6
    assert event.code.isdigit()
    assert event.issuer_transaction_id == answer["transaction_id"]
    assert (event.merchant, event.merchant_amount, event.merchant_currency) == ("Shop", 8000, "EUR")
    assert event.code_expires_at is not None
    assert (
        before + timedelta(minutes=4)
        < event.code_expires_at
        <= datetime.now(UTC) + timedelta(minutes=5)
    )
    assert receiver.adapter.parse_authorization(receiver.received[1].json()).three_ds is True
    assert answer["approved"] is True


async def test_failed_3ds_declines_without_an_authorization(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="80.00", currency="EUR", three_ds="fail"
    )
    assert (answer["approved"], answer["decline_reason"]) == (False, "3ds_failed")
    assert receiver.of("authorize") == []
    kinds = [receiver.adapter.parse_event(r.json()).kind for r in receiver.received]
    assert kinds == ["3ds.code", "transaction.declined"]


async def test_no_answer_from_us_is_a_stand_in_decline_we_are_told_about(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    receiver.adapter._secrets = ["rotated-away"]  # our side now refuses its signatures
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="5.00", currency="EUR"
    )
    assert (answer["approved"], answer["response_code"], answer["decline_reason"]) == (
        False,
        "91",
        "other",
    )
    event = sandbox.state.events[answer["events"][0]]
    assert event.type == "authorization.declined"
    assert event.deliveries == ["401"]


async def test_partial_settlement_frees_the_rest(sandbox: Sandbox, receiver: Receiver) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="100.00", currency="EUR"
    )
    settled = await sandbox.simulate(
        "settle", transaction_id=answer["transaction_id"], amount="60.00"
    )
    assert settled["status"] == "settled"
    event = receiver.adapter.parse_event(receiver.of("webhooks")[0].json())
    assert (event.kind, event.amount) == ("transaction.settled", 6000)
    assert (await sandbox.adapter.balances())["EUR"] == OPENING - 6000
    again = await sandbox.simulator.post(
        "/simulate/settle", json={"transaction_id": answer["transaction_id"]}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "INVALID_STATE"


async def test_a_settlement_above_the_authorization_is_refused(sandbox: Sandbox) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="10.00", currency="EUR"
    )
    response = await sandbox.simulator.post(
        "/simulate/settle", json={"transaction_id": answer["transaction_id"], "amount": "10.01"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_AMOUNT"


async def test_reversal_and_expiry_release_the_funds(sandbox: Sandbox, receiver: Receiver) -> None:
    card = await new_card(sandbox)
    first = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="10.00", currency="EUR"
    )
    second = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="20.00", currency="EUR"
    )
    assert (await sandbox.adapter.balances())["EUR"] == OPENING - 3000
    reversed_ = await sandbox.simulate("reversal", transaction_id=first["transaction_id"])
    expired = await sandbox.simulate("expire", transaction_id=second["transaction_id"])
    assert (reversed_["status"], expired["status"]) == ("reversed", "expired")
    kinds = [receiver.adapter.parse_event(r.json()).kind for r in receiver.of("webhooks")]
    assert kinds == ["transaction.reversed", "transaction.expired"]
    assert (await sandbox.adapter.balances())["EUR"] == OPENING


async def test_refunds_partial_then_the_rest(sandbox: Sandbox, receiver: Receiver) -> None:
    card = await new_card(sandbox, "USD")
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="40.00", currency="USD"
    )
    txn = answer["transaction_id"]
    early = await sandbox.simulator.post("/simulate/refund", json={"transaction_id": txn})
    assert early.status_code == 409  # not settled yet
    await sandbox.simulate("settle", transaction_id=txn)
    await sandbox.simulate("refund", transaction_id=txn, amount="15.00")
    rest = await sandbox.simulate("refund", transaction_id=txn)
    assert rest["status"] == "refunded"
    refunds = [receiver.adapter.parse_event(r.json()) for r in receiver.of("webhooks")][1:]
    assert [(e.kind, e.amount) for e in refunds] == [
        ("transaction.refunded", 1500),
        ("transaction.refunded", 2500),
    ]
    assert refunds[0].extra["refund_id"] != refunds[1].extra["refund_id"]
    assert (await sandbox.adapter.balances())["USD"] == OPENING


async def test_duplicate_resends_the_same_event(sandbox: Sandbox, receiver: Receiver) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "purchase", card_id=card.issuer_card_id, amount="10.00", currency="EUR"
    )
    settled = await sandbox.simulate("settle", transaction_id=answer["transaction_id"])
    [event_id] = settled["events"]
    resent = await sandbox.simulate("duplicate", event_id=event_id)
    assert resent["deliveries"] == ["200", "200"]
    first, second = receiver.of("webhooks")
    assert first.body == second.body
    assert receiver.adapter.parse_event(second.json()).event_id == event_id
    missing = await sandbox.simulator.post("/simulate/duplicate", json={"event_id": "evt_nope"})
    assert missing.status_code == 404


async def test_out_of_order_sends_the_settlement_before_the_authorization(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await new_card(sandbox)
    answer = await sandbox.simulate(
        "out-of-order", card_id=card.issuer_card_id, amount="25.00", currency="EUR"
    )
    assert [r.path.rsplit("/", 1)[1] for r in receiver.received] == ["webhooks", "authorize"]
    event = receiver.adapter.parse_event(receiver.received[0].json())
    assert (event.kind, event.issuer_transaction_id, event.amount) == (
        "transaction.settled",
        answer["transaction_id"],
        2500,
    )
    assert answer["status"] == "settled"
    assert (await sandbox.adapter.balances())["EUR"] == OPENING - 2500


async def test_simulator_refusals(sandbox: Sandbox) -> None:
    unknown = await sandbox.simulator.post(
        "/simulate/purchase", json={"card_id": "card_nope", "amount": "1.00", "currency": "EUR"}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "card_not_found")
    card = await new_card(sandbox)
    odd = await sandbox.simulator.post(
        "/simulate/purchase",
        json={"card_id": card.issuer_card_id, "amount": "1.00", "currency": "JPY"},
    )
    assert (odd.status_code, odd.json()["code"]) == (422, "unsupported_currency")
    bad = await sandbox.simulator.post(
        "/simulate/purchase",
        json={"card_id": card.issuer_card_id, "amount": "1.001", "currency": "EUR"},
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_BODY")
    nothing = await sandbox.simulator.post("/simulate/reversal", json={"transaction_id": "t"})
    assert (nothing.status_code, nothing.json()["code"]) == (404, "TRANSACTION_NOT_FOUND")
