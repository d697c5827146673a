"""The card transactions' notifications, through the sandbox issuer's real requests: a 3-D
Secure code, a purchase approved or declined (by us, or by the issuer after the fact), a refund;
each written once, whatever the issuer repeats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from paywarden.card_transactions import service as card_transactions
from paywarden.config import Settings
from paywarden.issuer.base import AuthorizationRequest
from paywarden.kit.db import Database
from paywarden.kit.time import iso
from tests.card_transactions.conftest import (
    authorization,
    authorize,
    code_rows,
    event,
    make_buyer,
    request_for,
    send,
    tx_data,
    tx_row,
)
from tests.notifications_events.conftest import (
    bought,
    kinds,
    notifications,
    one,
    reachable,
    rows_in,
)


async def test_a_3ds_code_is_told_once_without_the_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    chat = await reachable(db, buyer.client_id)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    data = tx_data(
        buyer,
        "tx_3ds",
        1_999,
        otp="482913",
        expires_at=expires.isoformat(),
        transaction_amount="21.50",
        transaction_currency="USD",
    )
    otp = event("authentication.otp", data)
    await send(client, settings, otp)
    await send(client, settings, otp)  # the same webhook again
    await send(client, settings, event("authentication.otp", data))  # under another event id
    [code] = await code_rows(db, buyer.client_id)
    note = await one(db, buyer.client_id, "code_3ds")
    assert (note.event_key, note.chat_id, note.status) == (f"code_3ds:{code.id}", chat, "pending")
    assert note.params == {
        "code_id": str(code.id),
        "card_last4": "4242",
        "merchant": "Coffee Shop",
        "amount": 2_150,
        "currency": "USD",
        "expires_at": iso(expires),
    }
    assert note.delete_at == expires
    assert "482913" not in str(note.params)
    assert await kinds(db, buyer.client_id) == ["code_3ds"]


async def test_a_lapsed_code_is_not_told(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    await reachable(db, buyer.client_id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    await send(
        client,
        settings,
        event("authentication.otp", tx_data(buyer, "tx_late", 100, otp="1234", expires_at=past)),
    )
    assert await notifications(db, buyer.client_id) == []


async def test_approved_and_declined_purchases_are_told_once_each(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=5_000)
    await reachable(db, buyer.client_id)
    purchase = authorization(buyer, 1_250, merchant="Book Store")
    assert (await authorize(client, settings, purchase))["approved"]
    assert (await authorize(client, settings, purchase))["approved"]  # the issuer asks again
    refused = authorization(buyer, 9_000)
    assert not (await authorize(client, settings, refused))["approved"]
    assert not (await authorize(client, settings, refused))["approved"]
    approved_tx = await tx_row(db, str(purchase["transaction_id"]))
    declined_tx = await tx_row(db, str(refused["transaction_id"]))
    card = {"card_last4": "4242", "currency": "EUR"}
    approved = await one(db, buyer.client_id, "card_approved")
    assert approved.event_key == f"card_approved:{approved_tx.id}"
    assert approved.params == {**card, "merchant": "Book Store", "amount": 1_250}
    declined = await one(db, buyer.client_id, "card_declined")
    assert declined.event_key == f"card_declined:{declined_tx.id}"
    reason = "insufficient_funds"
    assert declined.params == {**card, "merchant": "Coffee Shop", "amount": 9_000, "reason": reason}
    assert len(await notifications(db, buyer.client_id)) == 2
    # The issuer repeating our own decline tells nothing more.
    echo = tx_data(buyer, str(refused["transaction_id"]), 9_000, response_code="51")
    await send(client, settings, event("authorization.declined", echo))
    assert len(await notifications(db, buyer.client_id)) == 2


async def test_an_issuer_decline_after_our_approval_is_told_with_its_reason(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer, tx_id = await bought(client, settings, db, 1_000, funds=5_000)
    declined = event("authorization.declined", tx_data(buyer, tx_id, 1_000, response_code="59"))
    await send(client, settings, declined)
    await send(client, settings, declined)  # a replay
    await send(client, settings, event("authorization.declined", declined["data"]))  # re-sent
    tx = await tx_row(db, tx_id)
    note = await one(db, buyer.client_id, "card_declined")
    assert note.event_key == f"card_declined:{tx.id}"
    assert note.params["reason"] == "suspected_fraud"
    # A purchase we never saw, declined by the issuer: told too, keyed by its new row.
    unseen = tx_data(buyer, "tx_unseen", 700, response_code="51")
    await send(client, settings, event("authorization.declined", unseen))
    unseen_tx = await tx_row(db, "tx_unseen")
    assert sorted(n.event_key for n in await notifications(db, buyer.client_id)) == sorted(
        [
            f"card_approved:{tx.id}",
            f"card_declined:{tx.id}",
            f"card_declined:{unseen_tx.id}",
        ]
    )


async def test_a_refund_is_told_once_per_refund(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer, tx_id = await bought(client, settings, db, 3_000, funds=10_000)
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 3_000)))
    first = event("transaction.refunded", tx_data(buyer, tx_id, 1_000, refund_id="r1"))
    await send(client, settings, first)
    await send(client, settings, first)  # a repeat
    resent = event("transaction.refunded", tx_data(buyer, tx_id, 1_000, refund_id="r1"))
    await send(client, settings, resent)  # the same refund under another event id
    note = await one(db, buyer.client_id, "card_refund")
    assert note.event_key == f"card_refund:{first['id']}"
    assert note.params == {
        "card_last4": "4242",
        "merchant": "Coffee Shop",
        "amount": 1_000,
        "currency": "EUR",
    }


async def test_a_web_client_is_told_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=5_000)  # web_: no Telegram chat
    assert (await authorize(client, settings, authorization(buyer, 100)))["approved"]
    otp = tx_data(
        buyer,
        "tx_web",
        100,
        otp="1234",
        expires_at=(datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
    )
    await send(client, settings, event("authentication.otp", otp))
    assert await notifications(db, buyer.client_id) == []


async def _decide_then_fail(
    db: Database, client_id: uuid.UUID, request: AuthorizationRequest
) -> None:
    """A request whose transaction fails after the decision: told inside, then rolled back."""
    async with db.transaction() as session:
        decision = await card_transactions.authorize(
            session,
            "sandbox",
            request,
            datetime.now(UTC),  # type: ignore[arg-type]
        )
        assert decision.approved
        assert [n.kind for n in await rows_in(session, client_id)] == ["card_approved"]
        raise RuntimeError("the request failed after the decision")


async def test_a_decision_rolled_back_leaves_no_notification(db: Database) -> None:
    buyer = await make_buyer(db, funds=5_000)
    await reachable(db, buyer.client_id)
    request = request_for(buyer.issuer_card_id, 500)
    with pytest.raises(RuntimeError):
        await _decide_then_fail(db, buyer.client_id, request)
    assert await notifications(db, buyer.client_id) == []
    async with db.transaction() as session:  # the same request again, committed: told
        await card_transactions.authorize(session, "sandbox", request, datetime.now(UTC))
    assert await kinds(db, buyer.client_id) == ["card_approved"]
