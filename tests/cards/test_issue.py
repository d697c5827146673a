"""Issuing cards over the client and admin APIs: the checks and their codes in order, the issue
fee past the included cards (EUR, or USD at the rate), the issuer called once per card, and the
card closed again at the issuer when recording it fails."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from paywarden.issuer.base import IssuerError
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, LedgerTransaction
from tests.cards.conftest import (
    CARDS,
    FakeIssuer,
    card_rows,
    issue,
    make_holder,
    set_client,
)
from tests.clients.test_auth import error
from tests.conftest import TEST_DATABASE_URL
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    fund,
    ledger_ok,
    set_rate,
    system_balance,
)
from tests.wallets.conftest import credit


async def _fee_transactions(db: Database) -> list[LedgerTransaction]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == "card_issue_fee")
        )
        return list(rows.all())


async def test_an_included_card_is_free_and_shown_everywhere(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=1000)
    response = await issue(client, holder, "EUR", "250.5", label="  Groceries ")
    assert response.status_code == 201, response.text
    card = response.json()
    assert set(card) == {
        "id",
        "issuer_card_id",
        "currency",
        "monthly_limit",
        "spent_this_month",
        "status",
        "last4",
        "label",
        "created_at",
    }
    assert (card["currency"], card["monthly_limit"], card["spent_this_month"]) == (
        "EUR",
        "250.50",
        "0.00",
    )
    assert (card["status"], card["label"]) == ("active", "Groceries")
    fake = issuer.cards[card["issuer_card_id"]]
    assert fake["reference"] == card["id"]  # our id is the issuer's reference
    assert (fake["limit"], fake["currency"]) == (25050, "EUR")
    assert card["last4"] == fake["pan"][-4:]
    assert card["created_at"].endswith("Z")
    assert await count_kind(db, "card_issue_fee") == 0
    assert (await balances(db, holder.id))["EUR"] == 1000

    listed = await client.get(CARDS, params=holder.params, headers=holder.headers)
    assert listed.json() == {"data": [card]}
    state = await client.get("/api/botcartd/state", params=holder.params, headers=holder.headers)
    body = state.json()
    assert body["cards"] == [card]
    assert body["subscription"]["active_cards"] == 1
    assert body["subscription"]["slots_left"] == 0
    assert body["subscription"]["next_card_issue_fee"] == "5.00"


async def test_the_fee_past_the_included_cards_comes_from_eur(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=1200, cards_included=1, card_issue_fee=500)
    first = await issue(client, holder)
    second = await issue(client, holder, "USD", "100.00")
    assert (first.status_code, second.status_code) == (201, 201), second.text
    fees = await _fee_transactions(db)
    assert [f.idempotency_key for f in fees] == [f"card_issue:{second.json()['id']}"]
    assert (fees[0].reference_type, fees[0].reference_id) == ("card", second.json()["id"])
    assert await balances(db, holder.id) == {"EUR": 700, "USD": 0}
    assert await system_balance(db, "fee_revenue", "EUR") == 500
    rows = await card_rows(db, holder.id)
    assert [(r.issue_fee, r.issue_transaction_id) for r in rows] == [
        (0, None),
        (500, fees[0].id),
    ]
    await ledger_ok(db)


async def test_the_fee_comes_from_usd_at_the_rate_when_eur_is_short(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=499, usd=1000, cards_included=0, card_issue_fee=500)
    await set_rate(db, 1_085_000)  # 5.00 EUR = 5.425 USD, rounded up to 5.43
    response = await issue(client, holder)
    assert response.status_code == 201, response.text
    assert await balances(db, holder.id) == {"EUR": 499, "USD": 457}
    assert await system_balance(db, "fee_revenue", "USD") == 543
    assert await system_balance(db, "fee_revenue", "EUR") == 0
    await ledger_ok(db)


async def test_no_funds_for_the_fee_is_402_and_no_card_is_made_at_the_issuer(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=499, usd=1000, cards_included=0, card_issue_fee=500)
    # No rate set: USD cannot pay an EUR fee, and the missing rate is what the client is told.
    assert error(await issue(client, holder)) == (409, "FX_RATE_NOT_SET")
    assert issuer.made() == 0
    await set_rate(db, 1_085_000)
    await fund(db, holder.id, "USD", -458)  # 5.42 USD left: a cent short of 5.43
    assert error(await issue(client, holder)) == (402, "INSUFFICIENT_FUNDS")
    assert issuer.made() == 0
    assert await card_rows(db, holder.id) == []


async def test_refusals_come_in_order_with_their_codes(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=10_000, max_active_cards=1)
    await set_client(db, holder.id, status="banned", can_create_cards=False)
    assert error(await issue(client, holder)) == (403, "CLIENT_BANNED")
    await set_client(db, holder.id, status="active")
    assert error(await issue(client, holder)) == (403, "CARDS_DISABLED")
    await set_client(db, holder.id, can_create_cards=True)
    assert (await issue(client, holder)).status_code == 201
    assert error(await issue(client, holder)) == (409, "CARD_LIMIT_REACHED")
    # The client's own override beats the plan's cap, both ways.
    await set_client(db, holder.id, max_active_cards=2)
    assert (await issue(client, holder)).status_code == 201
    await set_client(db, holder.id, max_active_cards=0)
    assert error(await issue(client, holder)) == (409, "CARD_LIMIT_REACHED")
    assert issuer.made() == 2


async def test_an_unpaid_subscription_is_409_subscription_inactive(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, monthly_fee=1000)  # no funds: the subscription is pending
    assert error(await issue(client, holder)) == (409, "SUBSCRIPTION_INACTIVE")
    assert issuer.made() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"currency": "GBP", "monthly_limit": "10.00"},
        {"currency": "EUR", "monthly_limit": "0"},
        {"currency": "EUR", "monthly_limit": "0.00"},
        {"currency": "EUR", "monthly_limit": "-5.00"},
        {"currency": "EUR", "monthly_limit": "100000.01"},
        {"currency": "EUR", "monthly_limit": "1.234"},
        {"currency": "EUR", "monthly_limit": 12.5},
        {"currency": "EUR", "monthly_limit": "\uff15\uff10\uff10"},  # full-width digits
        {"currency": "EUR", "monthly_limit": "\u0661\u0662.\u0665"},  # Arabic-Indic digits
        {"currency": "EUR", "monthly_limit": "10.00", "label": "x" * 65},
        {"currency": "EUR"},
    ],
)
async def test_bad_bodies_are_400(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer, body: dict[str, object]
) -> None:
    holder = await make_holder(db)
    response = await client.post(CARDS, params=holder.params, headers=holder.headers, json=body)
    assert error(response) == (400, "INVALID_BODY")
    assert issuer.made() == 0


async def test_camel_case_and_the_largest_limit_are_accepted(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db)
    response = await client.post(
        CARDS,
        params=holder.params,
        headers=holder.headers,
        json={"currency": "USD", "monthlyLimit": "100000.00"},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["monthly_limit"], response.json()["label"]) == ("100000.00", None)


async def test_issuer_failures_are_502_and_a_retry_reuses_the_reference(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, max_active_cards=5)
    issuer.fail["create_card"] = [IssuerError("refused", raw_code="E42")]
    assert error(await issue(client, holder)) == (502, "ISSUER_ERROR")
    down = IssuerError("timeout", retryable=True)
    issuer.fail["create_card"] = [down, IssuerError("timeout", retryable=True)]
    assert error(await issue(client, holder)) == (502, "ISSUER_UNAVAILABLE")
    assert await card_rows(db, holder.id) == []
    # A transient failure is retried once, with the same reference: one card, not two.
    issuer.calls.clear()
    issuer.fail["create_card"] = [IssuerError("timeout", retryable=True)]
    response = await issue(client, holder)
    assert response.status_code == 201, response.text
    assert issuer.calls == [("create_card", response.json()["id"])] * 2


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="SQLite serializes writers: no spend can land while a request holds its transaction",
)
async def test_funds_spent_meanwhile_close_the_new_card_at_the_issuer(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=500, cards_included=0, card_issue_fee=500)

    async def spend_meanwhile() -> None:  # another request spends the wallet first
        async with db.transaction() as session:
            await credit(session, holder.id, "EUR", -300)

    issuer.on_create = spend_meanwhile
    assert error(await issue(client, holder)) == (402, "INSUFFICIENT_FUNDS")
    [(made_id, made)] = issuer.cards.items()
    assert made["status"] == "closed"
    assert ("close", made_id) in issuer.calls
    assert await card_rows(db, holder.id) == []
    assert await count_kind(db, "card_issue_fee") == 0
    assert await balances(db, holder.id) == {"EUR": 200, "USD": 0}
    await ledger_ok(db)


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="SQLite serializes writers: concurrent requests cannot both pass the checks",
)
async def test_concurrent_issues_never_pass_the_cap(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=10_000, max_active_cards=2, cards_included=0)
    answers = await asyncio.gather(*(issue(client, holder) for _ in range(5)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 2, [a.text for a in answers]
    assert all(a.json()["code"] == "CARD_LIMIT_REACHED" for a in answers if a.status_code != 201)
    assert len(await card_rows(db, holder.id)) == 2
    # Every card the issuer made past the cap was closed again.
    open_at_issuer = [c for c in issuer.cards.values() if c["status"] != "closed"]
    assert len(open_at_issuer) == 2
    assert await balances(db, holder.id) == {"EUR": 9000, "USD": 0}
    await ledger_ok(db)


async def test_operators_issue_for_a_client_audited(
    admin_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=600, cards_included=0, card_issue_fee=500)
    path = f"/api/v1/admin/clients/{holder.id}/cards"
    response = await admin_client.post(path, json={"currency": "USD", "monthlyLimit": "75"})
    assert response.status_code == 201, response.text
    card = response.json()
    assert (card["currency"], card["monthly_limit"]) == ("USD", "75.00")
    assert await balances(db, holder.id) == {"EUR": 100, "USD": 0}
    listed = await admin_client.get(path)
    assert listed.json() == {"data": [card]}
    async with db.transaction() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "card.issue"))
    assert entry is not None
    assert (entry.target_type, entry.target_id) == ("client", str(holder.id))
    assert entry.actor == "admin-client@example.com"
    assert entry.details["card_id"] == card["id"]
    assert entry.details["issue_fee"] == 500
    # Same checks as the client's own request.
    body = {"currency": "EUR", "monthly_limit": "75"}
    assert error(await admin_client.post(path, json=body)) == (402, "INSUFFICIENT_FUNDS")
    await set_client(db, holder.id, status="banned")
    assert error(await admin_client.post(path, json=body)) == (403, "CLIENT_BANNED")
    nobody = "/api/v1/admin/clients/00000000-0000-4000-8000-000000000000/cards"
    assert error(await admin_client.get(nobody)) == (404, "NOT_FOUND")
    assert error(await admin_client.post(nobody, json=body)) == (404, "NOT_FOUND")
