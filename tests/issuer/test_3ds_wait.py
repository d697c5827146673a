"""3-D Secure that waits for the shopper (`three_ds: "wait"`): the code goes to the cardholder,
the purchase waits, and `/simulate/authenticate` (the shopper typing the code on the merchant's
page) lets it go on or declines it. Over real HTTP, against a receiver and against our app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.models import Card, CardTransaction, Client
from tests.card_transactions.conftest import tx_row, wallet
from tests.card_transactions.test_sandbox import _card as sandbox_card
from tests.clients.test_auth import BOT_TOKEN, bot_headers
from tests.issuer.conftest import Receiver, Sandbox
from tests.issuer.stack import IssuerStack, running_stack

CODES = "/api/botcartd/3ds"


async def _wait(sandbox: Sandbox | IssuerStack, card_id: str, amount: str) -> dict[str, Any]:
    return await sandbox.simulate(
        "purchase",
        card_id=card_id,
        amount=amount,
        currency="EUR",
        merchant="Books Ltd",
        three_ds="wait",
    )


async def test_the_purchase_waits_for_the_code_then_goes_on(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    card = await sandbox.adapter.create_card(
        currency="EUR", monthly_limit=100_000, label=None, reference="c1"
    )
    waiting = await _wait(sandbox, card.issuer_card_id, "40.00")
    [webhook] = receiver.received  # the code only: nobody is asked yet
    event = receiver.adapter.parse_event(webhook.json())
    assert event.kind == "3ds.code"
    assert event.issuer_transaction_id == waiting["transaction_id"]
    assert event.code is not None
    assert event.code not in str(waiting)  # the shopper reads it where the cardholder does
    assert waiting == {
        "transaction_id": event.issuer_transaction_id,
        "approved": False,
        "decline_reason": None,
        "response_code": None,
        "status": "authenticating",
        "events": [webhook.json()["id"]],
    }
    assert event.code not in repr(sandbox.state.transactions[waiting["transaction_id"]])

    done = await sandbox.simulate(
        "authenticate", transaction_id=waiting["transaction_id"], otp=event.code
    )
    assert (done["approved"], done["status"], done["response_code"]) == (True, "approved", "00")
    [request] = receiver.of("authorize")
    assert receiver.adapter.parse_authorization(request.json()).three_ds is True
    assert sandbox.state.transactions[waiting["transaction_id"]].otp is None  # spent


# --- with our app: the cardholder reads the code through the client API ----------------------


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(make_settings, bot_api_token=BOT_TOKEN) as value:
        yield value


async def _holder(stack: IssuerStack, funds: int) -> tuple[uuid.UUID, str, Card]:
    """A funded client (its id and external id) with a EUR card made at the sandbox."""
    client_id, card = await sandbox_card(stack, funds=funds)
    async with stack.db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        return client_id, client.external_user_id, card


async def _codes(stack: IssuerStack, external_id: str) -> list[dict[str, Any]]:
    """The cardholder's codes, as the bot reads them for the client."""
    response = await stack.http.get(
        CODES, params={"externalUserId": external_id}, headers=bot_headers()
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _our_transactions(stack: IssuerStack) -> int:
    async with stack.db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(CardTransaction)) or 0


async def _authenticate(stack: IssuerStack, tx_id: str, otp: str) -> tuple[int, dict[str, Any]]:
    response = await stack.simulator.post(
        "/simulate/authenticate", json={"transaction_id": tx_id, "otp": otp}
    )
    return response.status_code, response.json()


async def test_the_code_read_from_our_app_approves_the_purchase(stack: IssuerStack) -> None:
    client_id, external_id, card = await _holder(stack, funds=10_000)
    waiting = await _wait(stack, card.issuer_card_id, "30.00")
    assert waiting["status"] == "authenticating"
    [code] = await _codes(stack, external_id)
    assert (code["status"], code["amount"], code["currency"]) == ("pending", "30.00", "EUR")
    assert code["code"] not in str(waiting)
    assert await _our_transactions(stack) == 0  # nothing authorized while the shopper types

    status, done = await _authenticate(stack, waiting["transaction_id"], code["code"])
    assert status == 200, done
    assert (done["transaction_id"], done["approved"], done["status"]) == (
        waiting["transaction_id"],
        True,
        "approved",
    )
    assert (await tx_row(stack.db, waiting["transaction_id"])).status == "approved"
    assert (await wallet(stack.db, client_id)).reserved == 3_000
    [used] = await _codes(stack, external_id)
    assert (used["status"], used["code"]) == ("used", None)

    again, refused = await _authenticate(stack, waiting["transaction_id"], code["code"])
    assert (again, refused["code"]) == (409, "INVALID_STATE")  # no longer waiting
    assert (await wallet(stack.db, client_id)).reserved == 3_000


async def test_a_wrong_code_declines_and_the_purchase_no_longer_waits(stack: IssuerStack) -> None:
    client_id, external_id, card = await _holder(stack, funds=10_000)
    waiting = await _wait(stack, card.issuer_card_id, "25.00")
    [code] = await _codes(stack, external_id)
    wrong = f"{(int(code['code']) + 1) % 1_000_000:06d}"
    status, done = await _authenticate(stack, waiting["transaction_id"], wrong)
    assert status == 200, done
    assert (done["approved"], done["status"], done["response_code"], done["decline_reason"]) == (
        False,
        "declined",
        "1A",
        "3ds_failed",
    )
    tx = await tx_row(stack.db, waiting["transaction_id"])
    assert (tx.status, tx.decline_reason) == ("declined", "3ds_failed")
    [declined] = await _codes(stack, external_id)
    assert (declined["status"], declined["code"]) == ("declined", None)
    assert (await wallet(stack.db, client_id)).reserved == 0

    late, refused = await _authenticate(stack, waiting["transaction_id"], code["code"])
    assert (late, refused["code"]) == (409, "INVALID_STATE")  # the right code, too late


async def test_a_lapsed_code_declines(stack: IssuerStack) -> None:
    client_id, external_id, card = await _holder(stack, funds=10_000)
    waiting = await _wait(stack, card.issuer_card_id, "10.00")
    [code] = await _codes(stack, external_id)
    tx = stack.sandbox.transactions[waiting["transaction_id"]]
    tx.otp_expires_at = datetime.now(UTC) - timedelta(seconds=1)  # the shopper took too long
    status, done = await _authenticate(stack, waiting["transaction_id"], code["code"])
    assert status == 200, done
    assert (done["approved"], done["response_code"]) == (False, "1A")
    assert (await wallet(stack.db, client_id)).reserved == 0


async def test_only_a_waiting_purchase_is_authenticated(stack: IssuerStack) -> None:
    _, external_id, card = await _holder(stack, funds=10_000)
    plain = await stack.purchase(card.issuer_card_id, "5.00")  # no 3-D Secure: nothing to type
    assert plain["approved"] is True
    status, refused = await _authenticate(stack, plain["transaction_id"], "123456")
    assert (status, refused["code"]) == (409, "INVALID_STATE")
    assert (await tx_row(stack.db, plain["transaction_id"])).status == "approved"
    status, unknown = await _authenticate(stack, "txn_nope", "123456")
    assert (status, unknown["code"]) == (404, "TRANSACTION_NOT_FOUND")
    blank = await stack.simulator.post(
        "/simulate/authenticate", json={"transaction_id": plain["transaction_id"], "otp": ""}
    )
    assert blank.status_code == 400
    assert await _codes(stack, external_id) == []
