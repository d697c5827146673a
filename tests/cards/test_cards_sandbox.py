"""Cards against the sandbox issuer over real HTTP: a full lifecycle as the issuer sees it,
the card's details straight from the issuer, and (PostgreSQL) concurrent issues past the cap
closed again at the issuer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from paywarden.config import Settings
from tests.cards.conftest import CARDS, card_rows, make_holder
from tests.clients.test_auth import BOT_TOKEN, bot_headers, error
from tests.conftest import TEST_DATABASE_URL
from tests.issuer.stack import IssuerStack, running_stack
from tests.subscriptions.conftest import balances, ledger_ok, system_balance


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(make_settings, bot_api_token=BOT_TOKEN) as running:
        yield running


async def test_a_card_lives_and_dies_at_the_sandbox_issuer(stack: IssuerStack) -> None:
    holder = await make_holder(stack.db, eur=2000, cards_included=1, card_issue_fee=500)
    http, params, headers = stack.http, holder.params, bot_headers()

    first = await http.post(
        CARDS, params=params, headers=headers, json={"currency": "EUR", "monthly_limit": "300"}
    )
    assert first.status_code == 201, first.text
    card = first.json()
    at_issuer = stack.sandbox.cards[card["issuer_card_id"]]
    assert (at_issuer.reference, at_issuer.currency, at_issuer.monthly_limit) == (
        card["id"],
        "EUR",
        30_000,
    )
    assert (at_issuer.status, card["last4"]) == ("ACTIVE", at_issuer.pan[-4:])

    # A second card is past the included one: 5.00 EUR, in the same transaction as the card.
    second = await http.post(
        CARDS,
        params=params,
        headers=headers,
        json={"currency": "USD", "monthly_limit": "50.00", "label": "ads"},
    )
    assert second.status_code == 201, second.text
    assert stack.sandbox.cards[second.json()["issuer_card_id"]].currency == "USD"
    assert await balances(stack.db, holder.id) == {"EUR": 1500, "USD": 0}
    assert await system_balance(stack.db, "fee_revenue", "EUR") == 500

    details = await http.get(f"{CARDS}/{card['id']}/details", params=params, headers=headers)
    assert details.status_code == 200, details.text
    assert details.headers["cache-control"] == "no-store"
    assert details.json() == {
        "pan": at_issuer.pan,
        "expiry": f"{at_issuer.exp_month:02d}/{at_issuer.exp_year % 100:02d}",
        "cvv": at_issuer.cvv,
    }

    frozen = await http.post(f"{CARDS}/{card['id']}/freeze", params=params, headers=headers)
    assert (frozen.json()["status"], at_issuer.status) == ("frozen", "FROZEN")
    unfrozen = await http.post(f"{CARDS}/{card['id']}/unfreeze", params=params, headers=headers)
    assert (unfrozen.json()["status"], at_issuer.status) == ("active", "ACTIVE")
    patched = await http.patch(
        f"{CARDS}/{card['id']}", params=params, headers=headers, json={"monthly_limit": "120.50"}
    )
    assert (patched.json()["monthly_limit"], at_issuer.monthly_limit) == ("120.50", 12_050)

    closed = await http.post(f"{CARDS}/{card['id']}/close", params=params, headers=headers)
    assert (closed.json()["status"], at_issuer.status) == ("closed", "CLOSED")
    again = await http.post(f"{CARDS}/{card['id']}/unfreeze", params=params, headers=headers)
    assert error(again) == (409, "INVALID_STATE")

    listed = await http.get(CARDS, params=params, headers=headers)
    assert [(c["id"], c["status"]) for c in listed.json()["data"]] == [
        (second.json()["id"], "active"),
        (card["id"], "closed"),
    ]
    state = await http.get("/api/botcartd/state", params=params, headers=headers)
    assert state.json()["cards"] == listed.json()["data"]
    assert state.json()["subscription"]["active_cards"] == 1
    await ledger_ok(stack.db)


async def test_an_issuer_refusal_leaves_our_card_as_it_was(stack: IssuerStack) -> None:
    holder = await make_holder(stack.db)
    http, params, headers = stack.http, holder.params, bot_headers()
    made = await http.post(
        CARDS, params=params, headers=headers, json={"currency": "EUR", "monthly_limit": "10"}
    )
    card = made.json()
    # Closed at the issuer behind our back: it refuses a new limit (409 card_closed there).
    stack.sandbox.set_status(card["issuer_card_id"], "CLOSED")
    patched = await http.patch(
        f"{CARDS}/{card['id']}", params=params, headers=headers, json={"monthly_limit": "20"}
    )
    assert error(patched) == (502, "ISSUER_ERROR")
    [row] = await card_rows(stack.db, holder.id)
    assert (row.status, row.monthly_limit) == ("active", 1000)


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="SQLite serializes writers: concurrent requests cannot both pass the checks",
)
async def test_concurrent_issues_past_the_cap_are_closed_at_the_sandbox(
    stack: IssuerStack,
) -> None:
    holder = await make_holder(stack.db, eur=10_000, max_active_cards=2, cards_included=0)
    body = {"currency": "EUR", "monthly_limit": "10.00"}
    answers = await asyncio.gather(
        *(
            stack.http.post(CARDS, params=holder.params, headers=bot_headers(), json=body)
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 201, 409, 409], [a.text for a in answers]
    ours = {r.issuer_card_id for r in await card_rows(stack.db, holder.id)}
    at_issuer = stack.sandbox.cards.values()
    assert {c.id for c in at_issuer if c.status != "CLOSED"} == ours
    assert await balances(stack.db, holder.id) == {"EUR": 9000, "USD": 0}
    await ledger_ok(stack.db)
