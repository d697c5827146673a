"""The sandbox's JSON and codes, mapped to the normalized vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from paywarden.issuer.base import Decision, DeclineReason, EventKind
from paywarden.issuer.sandbox import (
    DECLINE_CODES,
    EVENT_KINDS,
    REASON_CODES,
    SandboxAdapter,
    decline_reason,
)

ADAPTER = SandboxAdapter("http://127.0.0.1:9", "key", ["s1"])
MERCHANT = {"name": "Coffee Corner", "mcc": "5814", "country": "DE"}


def tx_data(**extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": "txn_1",
        "card_id": "card_1",
        "amount": "27.60",
        "currency": "EUR",
        "transaction_amount": "30.00",
        "transaction_currency": "USD",
        "merchant": MERCHANT,
        **extra,
    }


def event(raw_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "type": raw_type, "created_at": "2026-11-25T12:00:00.000Z", "data": data}


def test_the_decline_code_table() -> None:
    assert decline_reason("51") == "insufficient_funds"
    assert decline_reason("05") == "do_not_honor"
    assert decline_reason("1A") == "3ds_failed"
    assert decline_reason("62") == "card_inactive"
    assert decline_reason("14") == "card_inactive"
    assert decline_reason("61") == "spending_limit"
    assert decline_reason("59") == "suspected_fraud"
    assert decline_reason("N7") == "do_not_honor"
    assert decline_reason("ZZ") == "other"
    assert decline_reason(None) == "other"
    # Every normalized reason has a code to answer with, and that code reads back as it.
    assert set(REASON_CODES) == set(get_args(DeclineReason))
    for reason, code in REASON_CODES.items():
        assert DECLINE_CODES[code] == reason


def test_every_event_kind_is_reachable() -> None:
    assert set(EVENT_KINDS.values()) | {"other"} == set(get_args(EventKind))


def test_authorization_answers() -> None:
    assert ADAPTER.authorization_answer(Decision(True)) == {
        "approved": True,
        "response_code": "00",
    }
    declined = ADAPTER.authorization_answer(Decision(False, "insufficient_funds"))
    assert declined == {"approved": False, "response_code": "51"}
    assert ADAPTER.authorization_answer(Decision(False))["response_code"] == "57"


def test_an_authorization_request_is_parsed() -> None:
    request = ADAPTER.parse_authorization(
        {
            "id": "authreq_1",
            "transaction_id": "txn_1",
            "card_id": "card_1",
            "billing_amount": "27.60",
            "billing_currency": "EUR",
            "transaction_amount": "30.00",
            "transaction_currency": "USD",
            "merchant": MERCHANT,
            "three_ds_authenticated": True,
            "created_at": "2026-11-25T12:00:00.123Z",
        }
    )
    assert request.issuer_transaction_id == "txn_1"
    assert request.issuer_card_id == "card_1"
    assert (request.amount, request.currency) == (2760, "EUR")
    assert (request.merchant_amount, request.merchant_currency) == (3000, "USD")
    assert (request.merchant, request.mcc, request.country) == ("Coffee Corner", "5814", "DE")
    assert request.three_ds is True
    assert request.occurred_at == datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"billing_amount": "27.605"}, "billing_amount"),
        ({"billing_amount": -1}, "billing_amount"),
        ({"billing_amount": 27.6}, "billing_amount"),
        ({"billing_currency": "euro"}, "billing_currency"),
        ({"transaction_id": ""}, "transaction_id"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": "2026-11-25T12:00:00"}, "UTC offset"),
        ({"three_ds_authenticated": "yes"}, "three_ds"),
        ({"merchant": "Coffee Corner"}, "merchant"),
    ],
)
def test_a_malformed_authorization_request_is_a_value_error(
    change: dict[str, Any], match: str
) -> None:
    payload = {
        "transaction_id": "txn_1",
        "card_id": "card_1",
        "billing_amount": "27.60",
        "billing_currency": "EUR",
        "transaction_amount": "30.00",
        "transaction_currency": "USD",
        "merchant": MERCHANT,
        "created_at": "2026-11-25T12:00:00.000Z",
        **change,
    }
    with pytest.raises(ValueError, match=match):
        ADAPTER.parse_authorization(payload)


def test_a_settlement() -> None:
    parsed = ADAPTER.parse_event(event("transaction.cleared", tx_data()))
    assert (parsed.event_id, parsed.kind, parsed.raw_type) == (
        "evt_1",
        "transaction.settled",
        "transaction.cleared",
    )
    assert parsed.occurred_at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert (parsed.issuer_transaction_id, parsed.issuer_card_id) == ("txn_1", "card_1")
    assert (parsed.amount, parsed.currency) == (2760, "EUR")
    assert (parsed.merchant_amount, parsed.merchant_currency) == (3000, "USD")
    assert (parsed.merchant, parsed.mcc, parsed.country) == ("Coffee Corner", "5814", "DE")
    assert parsed.decline_reason is None
    assert parsed.code is None


@pytest.mark.parametrize(
    ("raw_type", "kind"),
    [
        ("authorization.reversed", "transaction.reversed"),
        ("authorization.expired", "transaction.expired"),
    ],
)
def test_reversals_and_expiries(raw_type: str, kind: str) -> None:
    parsed = ADAPTER.parse_event(event(raw_type, tx_data()))
    assert parsed.kind == kind
    assert (parsed.issuer_transaction_id, parsed.amount) == ("txn_1", 2760)


def test_a_refund_keeps_its_refund_id() -> None:
    parsed = ADAPTER.parse_event(
        event("transaction.refunded", tx_data(amount="10.00", refund_id="rfnd_1"))
    )
    assert parsed.kind == "transaction.refunded"
    assert parsed.amount == 1000
    assert parsed.extra == {"refund_id": "rfnd_1"}


def test_an_issuer_decline_carries_reason_and_raw_code() -> None:
    parsed = ADAPTER.parse_event(event("authorization.declined", tx_data(response_code="14")))
    assert parsed.kind == "transaction.declined"
    assert (parsed.decline_reason, parsed.raw_code) == ("card_inactive", "14")


def test_a_3ds_code() -> None:
    parsed = ADAPTER.parse_event(
        event("authentication.otp", tx_data(otp="042917", expires_at="2026-11-25T12:05:00.000Z"))
    )
    assert parsed.kind == "3ds.code"
    assert parsed.code == "042917"
    assert parsed.code_expires_at == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert parsed.issuer_transaction_id == "txn_1"  # the purchase it is for
    assert (parsed.merchant, parsed.merchant_amount, parsed.merchant_currency) == (
        "Coffee Corner",
        3000,
        "USD",
    )
    assert "042917" not in repr(parsed)


def test_a_card_update() -> None:
    parsed = ADAPTER.parse_event(
        event("card.status_changed", {"card_id": "card_1", "status": "FROZEN"})
    )
    assert (parsed.kind, parsed.issuer_card_id, parsed.card_status) == (
        "card.updated",
        "card_1",
        "frozen",
    )


def test_an_unknown_type_is_other_with_its_data() -> None:
    parsed = ADAPTER.parse_event(event("account.statement_ready", {"month": "2026-10"}))
    assert (parsed.kind, parsed.raw_type) == ("other", "account.statement_ready")
    assert parsed.extra == {"month": "2026-10"}


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"type": "transaction.cleared", "data": tx_data()}, "id"),
        ({"id": "evt_1", "data": tx_data()}, "type"),
        (event("transaction.cleared", tx_data(amount="a lot")), "amount"),
        (event("transaction.cleared", tx_data(card_id=None)), "card_id"),
        (
            event("authentication.otp", tx_data(otp="12ab56", expires_at="2026-11-25T12:05:00Z")),
            "otp",
        ),
        (event("authentication.otp", tx_data(otp="123456")), "expires_at"),
        (event("card.status_changed", {"card_id": "card_1", "status": "LOST"}), "status"),
        ({"id": "evt_1", "type": "transaction.cleared", "data": ["a", "list"]}, "data"),
    ],
)
def test_a_malformed_event_is_a_value_error(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ADAPTER.parse_event(payload)
