"""The client API's endpoints: the bot's upsert, state, the catalog, choosing a plan,
converting, the ledger pages, and what a banned client may still do."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from paywarden.audit.context import CLI
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import Client, Plan
from paywarden.plans import service as plans
from paywarden.support import service as support
from paywarden.wallets import service as wallets
from tests.clients.test_auth import (
    BOT_TOKEN,
    STATE,
    TELEGRAM_TOKEN,
    TRANSACTIONS,
    ban,
    bot_headers,
    error,
    make_client,
    tg_headers,
)
from tests.wallets.conftest import credit

TWO_DECIMALS = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN)


async def create_plan(db: Database, name: str, **fields: Any) -> Plan:
    values: dict[str, Any] = {
        "name": name,
        "bullets": f"{name} plan",
        "monthly_fee": 0,
        "cards_included": 1,
        "max_active_cards": 3,
        "card_issue_fee": 500,
        "topup_fee_bps": 150,
        "fx_fee_bps": 100,
        "hidden_from_home": False,
        "sort_order": 0,
        "is_default": False,
        "archived": False,
    }
    values.update(fields)
    async with db.transaction() as session:
        return await plans.create(session, values, CLI)


async def fund(db: Database, client_id: uuid.UUID, currency: str, cents: int) -> None:
    async with db.transaction() as session:
        await credit(session, client_id, currency, cents)


async def set_rate(db: Database, micros: int) -> None:
    async with db.transaction() as session:
        await plans.set_rate(session, micros, CLI)


def named(external_user_id: str) -> dict[str, str]:
    return {"externalUserId": external_user_id}


async def client_row(db: Database, client_id: uuid.UUID | str) -> Client:
    async with db.transaction() as session:
        row = await session.get(Client, uuid.UUID(str(client_id)))
        assert row is not None
        return row


# ---- POST clients ---------------------------------------------------------------------------


async def test_bot_upserts_a_client_onto_the_default_plan(
    client: httpx.AsyncClient, db: Database
) -> None:
    basic = await create_plan(db, "Basic", is_default=True)
    body = {"externalUserId": "tg_1001", "displayName": "Ann", "username": "ann", "language": "en"}
    made = await client.post("/api/botcartd/clients", json=body, headers=bot_headers())
    assert made.status_code == 200, made.text
    out = made.json()
    assert (out["external_user_id"], out["display_name"], out["username"]) == (
        "tg_1001",
        "Ann",
        "ann",
    )
    assert (out["status"], out["can_create_cards"], out["plan_id"]) == (
        "active",
        True,
        str(basic.id),
    )
    assert out["plan_since"].endswith("Z")

    again = await client.post(
        "/api/botcartd/clients",
        json={"external_user_id": "tg_1001", "language": "de"},
        headers=bot_headers(),
    )
    assert again.json()["id"] == out["id"]
    assert (again.json()["display_name"], again.json()["language"]) == ("Ann", "de")
    state = (await client.get(STATE, params=named("tg_1001"), headers=bot_headers())).json()
    assert state["subscription"]["status"] == "active"  # a free plan is active at once


async def test_only_the_bot_upserts_clients(client: httpx.AsyncClient) -> None:
    body = {"external_user_id": "tg_1002"}
    as_app = await client.post("/api/botcartd/clients", json=body, headers=tg_headers())
    assert error(as_app) == (401, "UNAUTHORIZED")
    wrong = await client.post("/api/botcartd/clients", json=body, headers=bot_headers("x"))
    assert error(wrong) == (401, "UNAUTHORIZED")
    bad = await client.post(
        "/api/botcartd/clients", json={"external_user_id": "alice"}, headers=bot_headers()
    )
    assert error(bad) == (400, "VALIDATION_ERROR")
    missing = await client.post("/api/botcartd/clients", json={}, headers=bot_headers())
    assert error(missing) == (400, "INVALID_BODY")


# ---- GET state ------------------------------------------------------------------------------


async def test_state_shape_and_two_decimal_amounts(client: httpx.AsyncClient, db: Database) -> None:
    plan = await create_plan(db, "Basic", is_default=True, card_issue_fee=250)
    made = await make_client(db, "tg_2001", display_name="Bo")
    await fund(db, made.id, "EUR", 1250)
    await fund(db, made.id, "USD", 7)
    async with db.transaction() as session:
        account = await wallets.wallet(session, made.id, "EUR")
        await wallets.place_hold(session, account, 200)
        await support.update(
            session, {"contact": "@help", "working_hours": "9-18", "average_reply_time": "~1h"}, CLI
        )
    await set_rate(db, 1_085_000)

    response = await client.get(STATE, params=named("tg_2001"), headers=bot_headers())
    assert response.status_code == 200, response.text
    state = response.json()
    assert set(state) == {
        "client",
        "plan",
        "subscription",
        "wallets",
        "cards",
        "ledger",
        "codes_3ds",
        "fx_rate",
        "support",
    }
    assert state["client"]["id"] == str(made.id)
    assert state["client"]["plan_id"] == str(plan.id)  # given the default plan on sight
    assert state["plan"] == {
        "id": str(plan.id),
        "name": "Basic",
        "bullets": "Basic plan",
        "currency": "EUR",
        "monthly_fee": "0.00",
        "monthly_fee_usd": "0.00",
        "cards_included": 1,
        "max_active_cards": 3,
        "card_issue_fee": "2.50",
        "card_issue_fee_usd": "2.50",
        "topup_fee_percent": "1.5",
        "fx_fee_percent": "1",
    }
    sub = state["subscription"]
    assert (sub["plan"], sub["plan_id"], sub["status"]) == ("Basic", str(plan.id), "active")
    assert (sub["cards_included"], sub["active_cards"], sub["slots_left"], sub["max_active"]) == (
        1,
        0,
        1,
        3,
    )
    assert (sub["next_card_issue_fee"], sub["can_create_cards"]) == ("0.00", True)
    assert sub["current_period_end"].endswith("Z")
    assert state["wallets"] == {
        "EUR": {"balance": "12.50", "reserved": "2.00", "available": "10.50"},
        "USD": {"balance": "0.07", "reserved": "0.00", "available": "0.07"},
    }
    assert (state["cards"], state["codes_3ds"]) == ([], [])
    assert state["fx_rate"] == "1.0850"
    assert state["support"] == {
        "contact": "@help",
        "working_hours": "9-18",
        "average_reply_time": "~1h",
    }
    assert [(line["currency"], line["amount"], line["kind"]) for line in state["ledger"]] == [
        ("USD", "0.07", "topup"),
        ("EUR", "12.50", "topup"),
    ]
    for line in state["ledger"]:
        assert TWO_DECIMALS.match(line["amount"])
        assert line["created_at"].endswith("Z")
        assert set(line) == {
            "id",
            "transaction_id",
            "kind",
            "amount",
            "currency",
            "created_at",
            "note",
            "reference",
        }


async def test_state_of_a_client_without_any_plan(client: httpx.AsyncClient, db: Database) -> None:
    await make_client(db, "tg_2002")
    state = (await client.get(STATE, params=named("tg_2002"), headers=bot_headers())).json()
    assert (state["plan"], state["fx_rate"], state["ledger"]) == (None, None, [])
    assert state["subscription"]["status"] == "none"
    assert state["subscription"]["can_create_cards"] is False
    assert state["wallets"]["EUR"] == {"balance": "0.00", "reserved": "0.00", "available": "0.00"}


async def test_state_keeps_only_the_latest_twenty_lines(
    client: httpx.AsyncClient, db: Database
) -> None:
    made = await make_client(db, "tg_2003")
    for cents in range(1, 24):
        await fund(db, made.id, "USD", cents)
    state = (await client.get(STATE, params=named("tg_2003"), headers=bot_headers())).json()
    assert [line["amount"] for line in state["ledger"]] == [f"0.{c:02d}" for c in range(23, 3, -1)]


# ---- the catalog and choosing a plan --------------------------------------------------------


async def test_catalog_leaves_hidden_and_archived_plans_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    basic = await create_plan(db, "Basic", is_default=True, sort_order=1)
    pro = await create_plan(db, "Pro", monthly_fee=999, sort_order=2)
    await create_plan(db, "Secret", hidden_from_home=True)
    await create_plan(db, "Old", archived=True)
    await make_client(db, "tg_3001")
    await client.get(STATE, params=named("tg_3001"), headers=bot_headers())  # onto Basic

    response = await client.get(
        "/api/botcartd/plans", params=named("tg_3001"), headers=bot_headers()
    )
    assert response.status_code == 200, response.text
    catalog = response.json()
    assert [(p["name"], p["is_current"]) for p in catalog["data"]] == [
        ("Basic", True),
        ("Pro", False),
    ]
    assert catalog["current_plan_id"] == str(basic.id)
    assert catalog["data"][1]["monthly_fee"] == "9.99"
    assert catalog["data"][1]["id"] == str(pro.id)
    assert "hidden_from_home" not in catalog["data"][0]
    assert error(await client.get("/api/botcartd/plans")) == (401, "UNAUTHORIZED")


async def test_select_a_plan_pays_it_and_refuses_hidden_ones(
    client: httpx.AsyncClient, db: Database
) -> None:
    await create_plan(db, "Basic", is_default=True)
    pro = await create_plan(db, "Pro", monthly_fee=999, cards_included=2)
    secret = await create_plan(db, "Secret", hidden_from_home=True)
    archived = await create_plan(db, "Old", archived=True)
    made = await make_client(db, "tg_4001")

    hidden = await client.post(
        "/api/botcartd/plan/select", json={"plan_id": str(secret.id)}, headers=tg_headers(4001)
    )
    assert error(hidden) == (403, "PLAN_NOT_SELECTABLE")
    old = await client.post(
        "/api/botcartd/plan/select", json={"planId": str(archived.id)}, headers=tg_headers(4001)
    )
    assert error(old) == (403, "PLAN_NOT_SELECTABLE")
    unknown = await client.post(
        "/api/botcartd/plan/select", json={"plan_id": str(uuid.uuid4())}, headers=tg_headers(4001)
    )
    assert error(unknown) == (404, "NOT_FOUND")
    broke = await client.post(
        "/api/botcartd/plan/select", json={"plan_id": str(pro.id)}, headers=tg_headers(4001)
    )
    assert error(broke) == (402, "INSUFFICIENT_FUNDS")

    await fund(db, made.id, "EUR", 1500)
    # The bot names the client in the body (camelCase too).
    paid = await client.post(
        "/api/botcartd/plan/select",
        json={"planId": str(pro.id), "externalUserId": "tg_4001"},
        headers=bot_headers(),
    )
    assert paid.status_code == 200, paid.text
    sub = paid.json()
    assert (sub["plan"], sub["status"], sub["cards_included"], sub["fee_charged"]) == (
        "Pro",
        "active",
        2,
        "9.99",
    )
    assert sub["fee_currency"] == "EUR"
    assert (await client_row(db, made.id)).plan_id == pro.id
    state = (await client.get(STATE, headers=tg_headers(4001))).json()
    assert state["wallets"]["EUR"]["balance"] == "5.01"
    assert state["ledger"][0]["kind"] == "subscription_fee"
    assert state["ledger"][0]["amount"] == "-9.99"


# ---- converting -----------------------------------------------------------------------------


async def test_convert_between_wallets_once_per_idempotency_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    await create_plan(db, "Basic", is_default=True, fx_fee_bps=100)
    made = await make_client(db, "tg_5001")
    await fund(db, made.id, "EUR", 10_000)
    await client.get(STATE, params=named("tg_5001"), headers=bot_headers())  # onto Basic
    body = {"from": "EUR", "to": "USD", "amount": "10.00"}

    no_rate = await client.post("/api/botcartd/convert", json=body, headers=tg_headers(5001))
    assert error(no_rate) == (409, "FX_RATE_NOT_SET")
    await set_rate(db, 1_085_000)

    headers = {**tg_headers(5001), "Idempotency-Key": "conv-1"}
    first = await client.post("/api/botcartd/convert", json=body, headers=headers)
    assert first.status_code == 200, first.text
    # 10.00 EUR at 1.0850 = 10.85 USD, less a 1 % fee rounded up (0.11).
    assert first.json() == {
        "from": "EUR",
        "to": "USD",
        "debited": "10.00",
        "credited": "10.74",
        "fee": "0.11",
        "rate": "1.0850",
        "transaction_id": first.json()["transaction_id"],
    }
    again = await client.post("/api/botcartd/convert", json=body, headers=headers)
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    state = (await client.get(STATE, headers=tg_headers(5001))).json()
    assert state["wallets"]["EUR"]["balance"] == "90.00"
    assert state["wallets"]["USD"]["balance"] == "10.74"

    back = await client.post(
        "/api/botcartd/convert",
        json={"from": "USD", "to": "EUR", "amount": "5"},
        headers=tg_headers(5001),
    )
    assert back.status_code == 200, back.text
    assert back.json()["debited"] == "5.00"


@pytest.mark.parametrize(
    "body",
    [
        {"from": "EUR", "to": "EUR", "amount": "1.00"},
        {"from": "EUR", "to": "GBP", "amount": "1.00"},
        {"from": "EUR", "to": "USD", "amount": "1.001"},
        {"from": "EUR", "to": "USD", "amount": "0"},
        {"from": "EUR", "to": "USD", "amount": 1.5},
        {"from": "EUR", "to": "USD", "amount": "\uff11\uff12"},  # full-width digits
        {"from": "EUR", "to": "USD", "amount": "\u0661\u0662.\u0665"},  # Arabic-Indic digits
        {"from": "EUR", "to": "USD", "amount": "1e2"},
        {"from": "EUR", "to": "USD"},
    ],
)
async def test_convert_validation(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any]
) -> None:
    await make_client(db, "tg_5002")
    response = await client.post("/api/botcartd/convert", json=body, headers=tg_headers(5002))
    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("INVALID_BODY", "VALIDATION_ERROR")


async def test_convert_past_the_available_balance(client: httpx.AsyncClient, db: Database) -> None:
    made = await make_client(db, "tg_5003")
    await fund(db, made.id, "USD", 500)
    await set_rate(db, 1_085_000)
    body = {"from": "USD", "to": "EUR", "amount": "5.01"}
    response = await client.post("/api/botcartd/convert", json=body, headers=tg_headers(5003))
    assert error(response) == (402, "INSUFFICIENT_FUNDS")


# ---- transactions ---------------------------------------------------------------------------


async def test_transactions_are_paged_newest_first(client: httpx.AsyncClient, db: Database) -> None:
    made = await make_client(db, "tg_6001")
    other = await make_client(db, "tg_6002")
    for cents in range(1, 26):
        await fund(db, made.id, "EUR", cents * 100)
    await fund(db, other.id, "EUR", 99)

    first = await client.get(
        TRANSACTIONS, params={**named("tg_6001"), "page": 1, "limit": 10}, headers=bot_headers()
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["pagination"] == {"page": 1, "limit": 10, "total": 25, "total_pages": 3}
    assert [line["amount"] for line in page["data"]] == [f"{c}.00" for c in range(25, 15, -1)]
    last = await client.get(
        TRANSACTIONS, params={**named("tg_6001"), "page": 3, "limit": 10}, headers=bot_headers()
    )
    assert [line["amount"] for line in last.json()["data"]] == [f"{c}.00" for c in range(5, 0, -1)]
    default = await client.get(TRANSACTIONS, params=named("tg_6001"), headers=bot_headers())
    assert default.json()["pagination"]["limit"] == 20
    too_many = await client.get(
        TRANSACTIONS, params={**named("tg_6001"), "limit": 101}, headers=bot_headers()
    )
    assert error(too_many) == (400, "INVALID_QUERY")
    theirs = await client.get(TRANSACTIONS, headers=tg_headers(6002))
    assert [line["amount"] for line in theirs.json()["data"]] == ["0.99"]


# ---- a banned client ------------------------------------------------------------------------


async def test_a_banned_client_reads_but_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    basic = await create_plan(db, "Basic", is_default=True)
    made = await make_client(db, "tg_7001")
    await fund(db, made.id, "EUR", 5000)
    await set_rate(db, 1_085_000)
    await ban(db, made.id)

    state = await client.get(STATE, headers=tg_headers(7001))
    assert state.status_code == 200, state.text
    assert state.json()["client"]["status"] == "banned"
    assert state.json()["client"]["plan_id"] is None  # not even the default plan is given
    assert (await client.get(TRANSACTIONS, headers=tg_headers(7001))).status_code == 200
    assert (await client.get("/api/botcartd/plans", headers=tg_headers(7001))).status_code == 200

    for path, body in (
        ("/api/botcartd/plan/select", {"plan_id": str(basic.id)}),
        ("/api/botcartd/topups", {"amount": "25"}),
        ("/api/botcartd/convert", {"from": "EUR", "to": "USD", "amount": "1.00"}),
    ):
        refused = await client.post(path, json=body, headers=tg_headers(7001))
        assert error(refused) == (403, "CLIENT_BANNED"), path
    # The bot may still refresh its profile; it stays banned.
    upsert = await client.post(
        "/api/botcartd/clients",
        json={"external_user_id": "tg_7001", "username": "still"},
        headers=bot_headers(),
    )
    assert (upsert.json()["status"], upsert.json()["username"]) == ("banned", "still")
    state = (await client.get(STATE, headers=tg_headers(7001))).json()
    assert state["wallets"]["EUR"]["balance"] == "50.00"
    assert [line["kind"] for line in state["ledger"]] == ["topup"]
