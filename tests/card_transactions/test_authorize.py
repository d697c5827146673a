"""POST /api/v1/issuer/sandbox/authorize: signed, decided from our books, held, idempotent."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.issuer import signing
from paywarden.kit.db import Database
from paywarden.models import CardTransaction, Client, LedgerHold
from tests.card_transactions.conftest import (
    AUTHORIZE,
    authorization,
    authorize,
    card_row,
    hold_row,
    make_buyer,
    signed,
    tx_row,
    wallet,
)


async def test_approves_and_holds_the_amount(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    body = authorization(buyer, 3_000)
    answer = await authorize(client, settings, body)
    assert answer == {"approved": True, "response_code": "00"}
    tx = await tx_row(db, body["transaction_id"])
    assert (tx.status, tx.decline_reason, tx.amount, tx.fx_fee) == ("approved", None, 3_000, 0)
    assert (tx.merchant, tx.mcc, tx.country) == ("Coffee Shop", "5814", "DE")
    hold = await hold_row(db, tx.hold_id)
    assert (hold.amount, hold.status, hold.reference_id) == (3_000, "held", str(tx.id))
    w = await wallet(db, buyer.client_id)
    assert (w.balance, w.reserved, w.available) == (10_000, 3_000, 7_000)
    card = await card_row(db, buyer.card_id)
    assert card.spent_this_month == 3_000
    assert card.spend_month == tx.created_at.strftime("%Y-%m")


async def test_a_repeated_request_gets_the_first_decision_and_no_second_hold(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=5_000)
    body = authorization(buyer, 4_000)
    first = await authorize(client, settings, body)
    again = await authorize(client, settings, body)
    assert first == again == {"approved": True, "response_code": "00"}
    async with db.transaction() as session:
        holds = await session.scalar(select(func.count()).select_from(LedgerHold))
        rows = await session.scalar(select(func.count()).select_from(CardTransaction))
    assert (holds, rows) == (1, 1)
    assert (await wallet(db, buyer.client_id)).reserved == 4_000
    assert (await card_row(db, buyer.card_id)).spent_this_month == 4_000


async def test_declines_past_the_available_balance(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=5_000)
    assert (await authorize(client, settings, authorization(buyer, 3_000)))["approved"]
    body = authorization(buyer, 2_001)  # 2_000 left available
    answer = await authorize(client, settings, body)
    assert answer == {"approved": False, "response_code": "51"}
    tx = await tx_row(db, body["transaction_id"])
    assert (tx.status, tx.decline_reason, tx.hold_id) == ("declined", "insufficient_funds", None)
    assert tx.raw_code == "paywarden:insufficient_funds"
    assert (await card_row(db, buyer.card_id)).spent_this_month == 3_000  # a decline spends none
    # The exact rest still goes through.
    assert (await authorize(client, settings, authorization(buyer, 2_000)))["approved"]


async def test_declines_past_the_monthly_limit(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=100_000, monthly_limit=5_000)
    assert (await authorize(client, settings, authorization(buyer, 4_000)))["approved"]
    body = authorization(buyer, 1_001)
    assert await authorize(client, settings, body) == {"approved": False, "response_code": "61"}
    assert (await tx_row(db, body["transaction_id"])).decline_reason == "spending_limit"


async def test_a_new_month_starts_from_zero(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=100_000, monthly_limit=5_000)
    async with db.transaction() as session:
        from paywarden.models import Card

        card = await session.get(Card, buyer.card_id)
        assert card is not None
        card.spend_month, card.spent_this_month = "2020-01", 5_000  # last spent long ago
    assert (await authorize(client, settings, authorization(buyer, 4_500)))["approved"]
    card = await card_row(db, buyer.card_id)
    assert card.spent_this_month == 4_500
    assert card.spend_month != "2020-01"


async def test_the_fx_fee_is_added_when_the_purchase_is_in_another_currency(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000, fx_fee_bps=150)  # 1.5 %
    body = authorization(buyer, 3_001, merchant_amount=3_300, merchant_currency="USD")
    assert (await authorize(client, settings, body))["approved"]
    tx = await tx_row(db, body["transaction_id"])
    # ceil(3001 * 0.015) = ceil(45.015) = 46
    assert (tx.fx_fee, tx.amount, tx.merchant_amount, tx.merchant_currency) == (
        46,
        3_047,
        3_300,
        "USD",
    )
    assert (await hold_row(db, tx.hold_id)).amount == 3_047
    # Same currency: no fee.
    body = authorization(buyer, 1_000)
    assert (await authorize(client, settings, body))["approved"]
    assert (await tx_row(db, body["transaction_id"])).fx_fee == 0


async def test_the_fee_counts_against_the_balance(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=1_000, fx_fee_bps=100)
    body = authorization(buyer, 1_000, merchant_currency="USD")  # 1_000 + 10 > 1_000
    assert await authorize(client, settings, body) == {"approved": False, "response_code": "51"}


async def test_a_frozen_or_closed_card_is_inactive(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    for status in ("frozen", "closed"):
        buyer = await make_buyer(db, status=status)
        body = authorization(buyer, 100)
        assert await authorize(client, settings, body) == {
            "approved": False,
            "response_code": "62",
        }
        assert (await tx_row(db, body["transaction_id"])).decline_reason == "card_inactive"
        assert (await wallet(db, buyer.client_id)).reserved == 0


async def test_a_banned_client_is_not_honored(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    async with db.transaction() as session:
        row = await session.get(Client, buyer.client_id)
        assert row is not None
        row.status = "banned"
    body = authorization(buyer, 100)
    assert await authorize(client, settings, body) == {"approved": False, "response_code": "05"}
    assert (await tx_row(db, body["transaction_id"])).decline_reason == "do_not_honor"


async def test_an_unknown_card_is_declined_inactive_without_a_row(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    buyer.issuer_card_id = "card_nobody_knows"
    answer = await authorize(client, settings, authorization(buyer, 100))
    assert answer == {"approved": False, "response_code": "62"}
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CardTransaction)) == 0


async def test_a_zero_amount_check_is_approved_without_a_hold(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=0)
    body = authorization(buyer, 0)
    assert (await authorize(client, settings, body))["approved"]
    assert (await tx_row(db, body["transaction_id"])).hold_id is None


async def test_refuses_bad_signatures_other_providers_and_malformed_bodies(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    body = authorization(buyer, 100)
    request = signed(settings, body)
    tampered = request["content"].replace(b'"1.00"', b'"0.01"')
    response = await client.post(AUTHORIZE, content=tampered, headers=request["headers"])
    assert response.status_code == 401
    assert response.json() == {
        "error": "The request's signature is missing, wrong or stale",
        "code": "INVALID_SIGNATURE",
    }
    response = await client.post(AUTHORIZE, content=request["content"])  # unsigned
    assert response.json()["code"] == "INVALID_SIGNATURE"
    stale = signed(settings, body, at=1_000_000_000)
    assert (await client.post(AUTHORIZE, **stale)).status_code == 401
    other = await client.post("/api/v1/issuer/arqen/authorize", **signed(settings, body))
    assert (other.status_code, other.json()["code"]) == (404, "NOT_FOUND")
    malformed = signed(settings, {**body, "billing_amount": "lots"})
    response = await client.post(AUTHORIZE, **malformed)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_BODY")
    not_json = signing.sign(settings.issuer_secrets()[:1], b"[1, 2", int(time.time()))
    response = await client.post(AUTHORIZE, content=b"[1, 2", headers=not_json)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_BODY")
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CardTransaction)) == 0
    assert app.state.issuer.name == "sandbox"


async def test_a_3ds_purchase_uses_its_pending_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    from tests.card_transactions.conftest import code_rows, event, send, tx_data

    buyer = await make_buyer(db)
    tx_id = "tx_3ds_used"
    otp = event(
        "authentication.otp",
        tx_data(buyer, tx_id, 2_500, otp="123456", expires_at="2099-01-01T00:00:00Z"),
    )
    await send(client, settings, otp)
    assert [c.status for c in await code_rows(db, buyer.client_id)] == ["pending"]
    body = authorization(buyer, 2_500, tx_id=tx_id, three_ds=True)
    assert (await authorize(client, settings, body))["approved"]
    assert [c.status for c in await code_rows(db, buyer.client_id)] == ["used"]
