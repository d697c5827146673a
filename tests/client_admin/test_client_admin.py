"""Admin API for clients: the list and its search, the client page with real ledger figures,
changes (audited), plan assignment, manual top-ups, demo balances, the client's ledger and what
the Telegram bot told it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.audit.context import CLI
from paywarden.client_admin import overview
from paywarden.clients import service as clients
from paywarden.clients.errors import ClientBanned
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import (
    AuditEntry,
    Card,
    CardTransaction,
    Client,
    Code3ds,
    LedgerTransaction,
    Plan,
    Topup,
    WebUser,
)
from paywarden.notifications import service as notifications
from paywarden.plans import service as plans
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg
from tests.client_admin.bot_notifications import PARAMS, block_bot, told
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in

CLIENTS = "/api/v1/admin/clients"


@pytest.fixture
async def super_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(app.state.db, "money@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


async def make_client(db: Database, external_user_id: str, **values: Any) -> Client:
    async with db.transaction() as session:
        made = await clients.upsert_client(session, external_user_id)
        for key, value in values.items():
            setattr(made, key, value)
    return made


async def make_plan(db: Database, name: str = "Basic", **values: Any) -> Plan:
    columns: dict[str, Any] = {
        "name": name,
        "bullets": "",
        "monthly_fee": 0,
        "cards_included": 1,
        "max_active_cards": 3,
        "card_issue_fee": 250,
        "topup_fee_bps": 300,
        "fx_fee_bps": 100,
        "hidden_from_home": False,
        "sort_order": 0,
        "is_default": False,
        "archived": False,
        **values,
    }
    async with db.transaction() as session:
        return await plans.create(session, columns, CLI)


async def post(
    db: Database, kind: str, legs: list[tuple[uuid.UUID | str, str, int]], key: str | None = None
) -> uuid.UUID:
    """One ledger transaction; a leg names a client (its wallet) or a system account code."""
    key = key or f"test:{uuid.uuid4()}"
    async with db.transaction() as session:
        resolved = []
        for owner, currency, amount in legs:
            if isinstance(owner, uuid.UUID):
                account = await wallets.wallet(session, owner, currency)
            else:
                account = await wallets.system_account(session, owner, currency, spread_key=key)
            resolved.append(Leg(account, currency, amount))
        entry = await wallets.post(session, kind, key, resolved)
    return entry.id


async def history(db: Database, client_id: uuid.UUID) -> None:
    """A top-up (3 % fee), a subscription fee, a conversion with its fee, spend and a refund."""
    # 100.00 USD received: 97.00 to the wallet, 3.00 fee.
    await post(
        db,
        "topup",
        [(client_id, "USD", 9700), ("fee_revenue", "USD", 300), ("usdt_received", "USD", -10000)],
    )
    # 20.00 USD -> 18.00 EUR, 0.20 EUR fee.
    await post(
        db,
        "fx",
        [
            (client_id, "USD", -2000),
            ("fx", "USD", 2000),
            ("fx", "EUR", -1820),
            (client_id, "EUR", 1800),
            ("fee_revenue", "EUR", 20),
        ],
    )
    await post(db, "subscription_fee", [(client_id, "EUR", -500), ("fee_revenue", "EUR", 500)])
    await post(db, "card_spend", [(client_id, "USD", -1500), ("issuer_float", "USD", 1500)])
    await post(db, "card_refund", [(client_id, "USD", 200), ("issuer_float", "USD", -200)])


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.created_at)
        )
        return list(rows)


@pytest.fixture
async def an_order(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    """A real gateway order (a top-up row points at one)."""
    merchant = await create_merchant(app.state.db)
    return await create_payment(client, merchant, external_id="shop-order-1")


# ---- the list ------------------------------------------------------------------------------


async def test_list_searches_each_kind_of_id_and_filters(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    gold = await make_plan(db, "Gold")
    ann = await make_client(db, "tg_1001", username="ann_cards", display_name="Ann")
    bob = await make_client(db, "tg_1002", username="bob", plan_id=gold.id, status="banned")
    web = await make_client(db, "web_abc")
    async with db.transaction() as session:
        # Bob's login linked by his bot id; the web client's own login by its client id.
        session.add(WebUser(email="bob@example.com", password_hash="x", external_user_id="tg_1002"))
        session.add(WebUser(email="web@example.com", password_hash="x", client_id=web.id))

    response = await admin_client.get(CLIENTS)
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3, "total_pages": 1}
    assert [c["external_user_id"] for c in body["data"]] == ["web_abc", "tg_1002", "tg_1001"]
    row = body["data"][1]
    assert row == {
        "id": str(bob.id),
        "external_user_id": "tg_1002",
        "display_name": None,
        "username": "bob",
        "language": None,
        "status": "banned",
        "email": "bob@example.com",
        "plan_id": str(gold.id),
        "plan_name": "Gold",
        "created_at": row["created_at"],
        "last_active_at": row["last_active_at"],
    }
    assert row["created_at"].endswith("Z")
    assert body["data"][0]["email"] == "web@example.com"

    async def found(**params: object) -> list[str]:
        r = await admin_client.get(CLIENTS, params=params)
        assert r.status_code == 200, r.text
        return [c["external_user_id"] for c in r.json()["data"]]

    assert await found(search="tg_1001") == ["tg_1001"]  # external id
    assert await found(search="ANN_C") == ["tg_1001"]  # username, any case
    assert await found(search="bob@EXAMPLE") == ["tg_1002"]  # email of a tg_ linked login
    assert await found(search="web@example.com") == ["web_abc"]  # email of its own login
    assert await found(search=str(ann.id)) == ["tg_1001"]  # client id
    assert await found(search="%") == []  # LIKE wildcards are literal
    assert await found(search="a_n") == []  # "_" is no wildcard either ("ann" does not match)
    assert await found(status="banned") == ["tg_1002"]
    assert await found(status="active") == ["web_abc", "tg_1001"]
    assert await found(plan_id=str(gold.id)) == ["tg_1002"]
    assert await found(planId=str(gold.id), search="tg_1002") == ["tg_1002"]  # camelCase
    assert await found(page=2, limit=2) == ["tg_1001"]
    for bad in ({"status": "nope"}, {"plan_id": "x"}, {"limit": 0}, {"page": 0}):
        r = await admin_client.get(CLIENTS, params=bad)
        assert r.status_code == 400, bad
        assert r.json()["code"] == "INVALID_QUERY"


# ---- the client page -----------------------------------------------------------------------


async def test_detail_has_every_block_with_ledger_figures(
    admin_client: httpx.AsyncClient, db: Database, an_order: dict[str, Any]
) -> None:
    plan = await make_plan(db, "Plus", monthly_fee=500)
    owner = await create_operator(db, "owner@example.com")
    c = await make_client(
        db,
        "tg_2001",
        display_name="Cleo",
        username="cleo",
        language="en",
        plan_id=plan.id,
        plan_since=utcnow(),
        tariff_notes="promo",
        internal_note="VIP",
        support_owner_id=owner.operator.id,
        max_active_cards=5,
    )
    async with db.transaction() as session:
        session.add(WebUser(email="cleo@example.com", password_hash="x", client_id=c.id))
    await history(db, c.id)
    await post(db, "adjustment", [(c.id, "EUR", 1000), ("adjustments", "EUR", -1000)])
    await post(db, "demo", [(c.id, "USD", 5000), ("adjustments", "USD", -5000)])
    async with db.transaction() as session:
        usd = await wallets.wallet(session, c.id, "USD")
        await wallets.place_hold(session, usd, 700)
        order = uuid.UUID(an_order["id"])
        session.add(
            Topup(
                client_id=c.id,
                order_id=order,
                amount_usdt=100_000_000,
                status="credited",
                received_usdt=100_000_000,
                gross_cents=10000,
                fee_cents=300,
                credited_cents=9700,
                credited_at=utcnow(),
            )
        )

    response = await admin_client.get(f"{CLIENTS}/{c.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["identity"] == {
        "id": str(c.id),
        "external_user_id": "tg_2001",
        "display_name": "Cleo",
        "username": "cleo",
        "language": "en",
        "status": "active",
        "email": "cleo@example.com",
        "created_at": body["identity"]["created_at"],
        "last_active_at": body["identity"]["last_active_at"],
    }
    assert body["tariff"]["plan"] == {
        "id": str(plan.id),
        "name": "Plus",
        "hidden_from_home": False,
        "archived": False,
    }
    assert body["tariff"]["tariff_notes"] == "promo"
    assert body["tariff"]["plan_since"].endswith("Z")
    sub = body["subscription"]
    assert sub["status"] == "none"  # no subscription row yet
    assert (sub["cards_included"], sub["max_active"], sub["slots_left"]) == (1, 5, 1)
    assert sub["next_card_issue_fee"] == "0.00"
    assert sub["can_create_cards"] is False
    assert body["access"] == {"banned": False, "can_create_cards": True, "max_active_cards": 5}
    # USD: 97 - 20 - 15 + 2 + 50 = 114.00, 7.00 held; EUR: 18 - 5 + 10 = 23.00.
    assert body["balances"] == {
        "EUR": {"balance": "23.00", "reserved": "0.00", "available": "23.00"},
        "USD": {"balance": "114.00", "reserved": "7.00", "available": "107.00"},
    }
    assert body["lifetime"] == {
        "net_deposits": {"EUR": "0.00", "USD": "97.00"},
        "adjustments": {"EUR": "10.00", "USD": "0.00"},
        "demo": {"EUR": "0.00", "USD": "50.00"},
        "spend": {"EUR": "0.00", "USD": "13.00"},
        "fees": {"EUR": "5.20", "USD": "3.00"},
        "fees_eur_estimate": None,  # no FX rate set yet
    }
    assert body["activity"] == {
        "topups_today": {"count": 1, "amount": {"EUR": "0.00", "USD": "97.00"}},
        "topups_last_3_days": {"count": 1, "amount": {"EUR": "0.00", "USD": "97.00"}},
        "spend_today": {"EUR": "0.00", "USD": "13.00"},
        "spend_last_3_days": {"EUR": "0.00", "USD": "13.00"},
        "transactions_today": 7,
    }
    latest = body["latest_topup"]
    assert latest["status"] == "credited"
    assert (latest["currency"], latest["amount"], latest["received"]) == (
        "USD",
        "100.000000",
        "100.000000",
    )
    assert (latest["gross"], latest["fee"], latest["net"]) == ("100.00", "3.00", "97.00")
    assert latest["order_id"] == str(order)
    assert body["notes"] == {
        "internal_note": "VIP",
        "support_owner": {"id": str(owner.operator.id), "email": "owner@example.com"},
        "last_admin_action": None,
    }

    # With a rate set, USD fees are also shown in EUR: 5.20 + 3.00 / 1.2 = 7.70.
    async with db.transaction() as session:
        await plans.set_rate(session, 1_200_000, CLI)
    again = (await admin_client.get(f"{CLIENTS}/{c.id}")).json()
    assert again["lifetime"]["fees_eur_estimate"] == "7.70"

    missing = await admin_client.get(f"{CLIENTS}/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    assert (await admin_client.get(f"{CLIENTS}/not-a-uuid")).status_code == 404


async def test_recent_activity_windows_use_report_days(db: Database) -> None:
    c = await make_client(db, "tg_2002")
    await history(db, c.id)
    zone = ZoneInfo("UTC")
    async with db.transaction() as session:
        later = await overview.activity(session, c.id, zone, utcnow() + timedelta(days=2))
        gone = await overview.activity(session, c.id, zone, utcnow() + timedelta(days=3))
    # Two days on, today's postings are in "the last 3 days" but not "today".
    assert later.topups_today.count == 0
    assert later.topups_recent.count == 1
    assert later.topups_recent.amounts["USD"] == 9700
    assert later.spend_recent["USD"] == 1300
    assert later.transactions_today == 0
    assert gone.topups_recent.count == 0
    assert gone.spend_recent == {"EUR": 0, "USD": 0}


async def test_detail_shows_cards_quality_3ds_and_the_latest_transaction(
    app: FastAPI, admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_2003")
    now = utcnow()
    async with db.transaction() as session:
        await wallets.adjust(
            session, c.id, "EUR", 5_000, idempotency_key="cards-eur", actor=CLI, note="t"
        )
        month = now.strftime("%Y-%m")
        cards = [
            Card(
                client_id=c.id,
                issuer="sandbox",
                issuer_card_id=f"ic_{i}",
                currency=cur,
                monthly_limit=limit,
                spend_month=month,
                spent_this_month=spent,
                status=status,
            )
            for i, (cur, limit, spent, status) in enumerate(
                [
                    ("EUR", 10_000, 2_000, "active"),  # room 80.00, the wallet caps it at 50.00
                    ("EUR", 3_000, 0, "frozen"),
                    ("USD", 4_000, 0, "closed"),
                ]
            )
        ]
        session.add_all(cards)
        await session.flush()
        for i, (status, minutes) in enumerate(
            [("settled", 30), ("approved", 20), ("declined", 10), ("pending", 5)]
        ):
            session.add(
                CardTransaction(
                    client_id=c.id,
                    card_id=cards[0].id,
                    issuer="sandbox",
                    issuer_transaction_id=f"tx_{i}",
                    status=status,
                    amount=1_250,
                    currency="EUR",
                    fx_fee=0,
                    merchant_amount=1_250,
                    merchant_currency="EUR",
                    merchant=f"Shop {i}",
                    mcc="5411",
                    country="DE",
                    refunded_amount=0,
                    decline_reason="insufficient_funds" if status == "declined" else None,
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        session.add(
            Code3ds(
                card_id=cards[0].id,
                client_id=c.id,
                issuer="sandbox",
                issuer_reference="tx_0",
                code="123456",
                merchant="Shop 0",
                amount=1_250,
                currency="EUR",
                status="used",
                expires_at=now + timedelta(minutes=5),
            )
        )
    body = (await admin_client.get(f"{CLIENTS}/{c.id}")).json()
    assert body["cards"] == {
        "total": 3,
        "active": 1,
        "frozen": 1,
        "closed": 1,
        "by_currency": {"EUR": 2, "USD": 1},
        "assigned_limit": {"EUR": "100.00", "USD": "0.00"},
        "available_to_spend": {"EUR": "50.00", "USD": "0.00"},
    }
    # Pending waits; 2 of the 3 decided were approved.
    assert body["transaction_quality"] == {
        "approved_3d": 2,
        "declined_3d": 1,
        "approval_rate_3d": "66.7",
        "decline_rate_3d": "33.3",
    }
    assert body["risk_3ds"]["requests_today"] == 1
    assert body["risk_3ds"]["approval_rate_7d"] == "100.0"
    latest = body["latest_transaction"]
    assert (latest["status"], latest["merchant"], latest["amount"]) == (
        "pending",
        "Shop 3",
        "12.50",
    )
    assert (latest["mcc"], latest["country"], latest["currency"]) == ("5411", "DE", "EUR")


# ---- changes -------------------------------------------------------------------------------


async def test_patch_changes_access_and_notes_audited(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_3001")
    owner = await create_operator(db, "support@example.com")
    response = await admin_client.patch(
        f"{CLIENTS}/{c.id}",
        json={
            "banned": True,
            "canCreateCards": False,
            "max_active_cards": 2,
            "internal_note": "chargeback risk",
            "support_owner_id": str(owner.operator.id),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["identity"]["status"] == "banned"
    assert body["access"] == {"banned": True, "can_create_cards": False, "max_active_cards": 2}
    assert body["notes"]["internal_note"] == "chargeback risk"
    assert body["notes"]["support_owner"]["email"] == "support@example.com"
    assert body["notes"]["last_admin_action"]["action"] == "client.update"
    assert body["notes"]["last_admin_action"]["actor"] == "admin-client@example.com"
    assert body["subscription"]["max_active"] == 2

    [entry] = await audit_rows(db, "client.update")
    assert (entry.target_type, entry.target_id) == ("client", str(c.id))
    assert entry.details == {
        "before": {
            "status": "active",
            "can_create_cards": True,
            "max_active_cards": None,
            "internal_note": None,
            "support_owner_id": None,
        },
        "after": {
            "status": "banned",
            "can_create_cards": False,
            "max_active_cards": 2,
            "internal_note": "chargeback risk",
            "support_owner_id": str(owner.operator.id),
        },
    }

    # A banned client can read but change nothing.
    async with db.transaction() as session:
        banned = await clients.get(session, c.id)
        with pytest.raises(ClientBanned):
            clients.ensure_can_change(banned)

    # Nulls clear; only what changed is recorded; the same values again record nothing.
    cleared = await admin_client.patch(
        f"{CLIENTS}/{c.id}",
        json={"banned": False, "max_active_cards": None, "support_owner_id": None},
    )
    assert cleared.status_code == 200
    assert cleared.json()["access"]["max_active_cards"] is None
    assert cleared.json()["notes"]["support_owner"] is None
    same = await admin_client.patch(f"{CLIENTS}/{c.id}", json={"banned": False})
    assert same.status_code == 200
    entries = await audit_rows(db, "client.update")
    assert len(entries) == 2
    assert entries[1].details["after"] == {
        "status": "active",
        "max_active_cards": None,
        "support_owner_id": None,
    }
    async with db.transaction() as session:
        assert clients.ensure_can_change(await clients.get(session, c.id))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "EMPTY_UPDATE"),
        ({"banned": None}, 400, "INVALID_BODY"),
        ({"banned": "maybe"}, 400, "INVALID_BODY"),
        ({"max_active_cards": -1}, 400, "INVALID_BODY"),
        ({"support_owner_id": "nope"}, 400, "INVALID_BODY"),
        ({"support_owner_id": "00000000-0000-0000-0000-000000000001"}, 404, "NOT_FOUND"),
    ],
)
async def test_patch_refusals(
    admin_client: httpx.AsyncClient, db: Database, body: dict[str, Any], status: int, code: str
) -> None:
    c = await make_client(db, "tg_3002")
    response = await admin_client.patch(f"{CLIENTS}/{c.id}", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await audit_rows(db, "client.update") == []


async def test_patch_unknown_client_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.patch(f"{CLIENTS}/{uuid.uuid4()}", json={"banned": True})
    assert response.status_code == 404


async def test_assign_plan_hidden_plan_with_notes(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    hidden = await make_plan(db, "Partner", monthly_fee=1000, hidden_from_home=True)
    c = await make_client(db, "tg_4001")
    await post(db, "topup", [(c.id, "EUR", 2500), ("usdt_received", "EUR", -2500)])

    response = await admin_client.post(
        f"{CLIENTS}/{c.id}/plan", json={"plan_id": str(hidden.id), "notes": "partner deal"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tariff"]["plan"]["name"] == "Partner"
    assert body["tariff"]["tariff_notes"] == "partner deal"
    assert body["subscription"]["status"] == "active"
    assert body["subscription"]["fee_charged"] == "10.00"
    assert body["balances"]["EUR"]["balance"] == "15.00"
    assert body["lifetime"]["fees"]["EUR"] == "10.00"
    assert body["notes"]["last_admin_action"]["action"] == "client.plan_assign"
    [entry] = await audit_rows(db, "client.plan_assign")
    assert entry.target_id == str(c.id)

    # Without funds the assignment stands, past due.
    poor = await make_client(db, "tg_4002")
    response = await admin_client.post(f"{CLIENTS}/{poor.id}/plan", json={"planId": str(hidden.id)})
    assert response.status_code == 200
    assert response.json()["subscription"]["status"] == "past_due"

    unknown = await admin_client.post(f"{CLIENTS}/{c.id}/plan", json={"plan_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    archived = await make_plan(db, "Old", archived=True)
    refused = await admin_client.post(f"{CLIENTS}/{c.id}/plan", json={"plan_id": str(archived.id)})
    assert (refused.status_code, refused.json()["code"]) == (409, "INVALID_STATE")
    bad = await admin_client.post(f"{CLIENTS}/{c.id}/plan", json={})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_BODY")


# ---- money ---------------------------------------------------------------------------------


async def test_manual_topup_credits_audits_and_honours_idempotency_key(
    super_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_5001")
    url = f"{CLIENTS}/{c.id}/topup"
    body = {"currency": "EUR", "amount": "12.50", "note": "goodwill"}
    first = await super_client.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["kind"] == "adjustment"
    assert (out["currency"], out["amount"], out["balance"]) == ("EUR", "12.50", "12.50")
    assert out["replayed"] is False

    again = await super_client.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201  # the first answer again (tests/clients/test_idempotency.py)
    assert again.json()["transaction_id"] == out["transaction_id"]
    assert again.json()["replayed"] is True
    assert again.json()["balance"] == "12.50"

    other = await super_client.post(
        url, json={**body, "amount": "13.00"}, headers={"Idempotency-Key": "k-1"}
    )
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    # Without a key each call is a new top-up.
    third = await super_client.post(url, json={**body, "currency": "USD", "amount": "1"})
    assert third.status_code == 201
    assert third.json()["balance"] == "1.00"

    async with db.transaction() as session:
        balances = await wallets.balances(session, c.id)
        txs = (
            await session.scalars(
                select(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
            )
        ).all()
        assert (await wallets.check(session)).ok
    assert (balances["EUR"].balance, balances["USD"].balance) == (1250, 100)
    assert len(txs) == 2
    assert {t.note for t in txs} == {"goodwill"}
    assert {t.actor for t in txs} == {"money@example.com"}
    entries = await audit_rows(db, "ledger.adjustment")
    assert len(entries) == 2
    assert {e.target_id for e in entries} == {str(c.id)}
    assert entries[0].details["amount"] == 1250

    for bad in (
        {"currency": "EUR", "amount": "0", "note": "x"},
        {"currency": "EUR", "amount": "-1", "note": "x"},
        {"currency": "EUR", "amount": "1.005", "note": "x"},
        {"currency": "EUR", "amount": 5.5, "note": "x"},
        {"currency": "EUR", "amount": "\u0661\u0662.\u0665", "note": "x"},  # Arabic-Indic digits
        {"currency": "EUR", "amount": "1e1", "note": "x"},
        {"currency": "USDT", "amount": "1", "note": "x"},
        {"currency": "EUR", "amount": "1", "note": "  "},
        {"currency": "EUR", "amount": "1"},
    ):
        r = await super_client.post(url, json=bad)
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_BODY"), bad
    long_key = await super_client.post(url, json=body, headers={"Idempotency-Key": "k" * 201})
    assert long_key.status_code == 400
    # Moving money is a super_admin's.
    refused = await admin_client.post(url, json=body)
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
    missing = await super_client.post(f"{CLIENTS}/{uuid.uuid4()}/topup", json=body)
    assert missing.status_code == 404


async def test_demo_balance_sets_the_balance_by_the_difference(
    super_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_6001")
    await post(db, "topup", [(c.id, "USD", 3000), ("usdt_received", "USD", -3000)])
    url = f"{CLIENTS}/{c.id}/balance"

    up = await super_client.post(url, json={"currency": "USD", "amount": "100", "note": "demo"})
    assert up.status_code == 200, up.text
    assert (up.json()["amount"], up.json()["balance"], up.json()["kind"]) == (
        "70.00",
        "100.00",
        "demo",
    )
    down = await super_client.post(url, json={"currency": "USD", "amount": "5.5", "note": "demo"})
    assert (down.json()["amount"], down.json()["balance"]) == ("-94.50", "5.50")
    same = await super_client.post(url, json={"currency": "USD", "amount": "5.50", "note": "x"})
    assert same.json()["transaction_id"] is None
    assert same.json()["amount"] == "0.00"

    async with db.transaction() as session:
        usd = await wallets.wallet(session, c.id, "USD")
        await wallets.place_hold(session, usd, 400)
    below = await super_client.post(url, json={"currency": "USD", "amount": "3.99", "note": "d"})
    assert (below.status_code, below.json()["code"]) == (409, "BELOW_RESERVED")
    at = await super_client.post(url, json={"currency": "USD", "amount": "4", "note": "d"})
    assert at.status_code == 200
    assert (at.json()["reserved"], at.json()["available"]) == ("4.00", "0.00")

    async with db.transaction() as session:
        assert (await wallets.balances(session, c.id))["USD"].balance == 400
        demo = (
            await session.scalars(select(LedgerTransaction).where(LedgerTransaction.kind == "demo"))
        ).all()
        assert (await wallets.check(session)).ok
    assert len(demo) == 3
    entries = await audit_rows(db, "client.demo_balance")
    assert len(entries) == 4  # the no-op one too: an operator's action
    assert entries[0].target_id == str(c.id)
    assert {k: entries[0].details[k] for k in ("before", "after", "amount", "currency")} == {
        "before": 3000,
        "after": 10000,
        "amount": 7000,
        "currency": "USD",
    }
    refused = await admin_client.post(url, json={"currency": "USD", "amount": "1", "note": "d"})
    assert refused.status_code == 403


async def test_demo_balance_is_refused_in_production(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(env="production"))
    try:
        db = app.state.db
        c = await make_client(db, "tg_6002")
        op = await create_operator(db, "prod@example.com", role="super_admin")
        async with client_for(app, https=True) as http:
            await sign_in(http, op)
            response = await http.post(
                f"{CLIENTS}/{c.id}/balance", json={"currency": "EUR", "amount": "10", "note": "d"}
            )
            assert response.status_code == 403
            assert response.json() == {
                "error": "Demo balances cannot be set in production",
                "code": "DEMO_DISABLED",
            }
            # Manual top-ups stay available: they are real operations.
            topup = await http.post(
                f"{CLIENTS}/{c.id}/topup", json={"currency": "EUR", "amount": "10", "note": "d"}
            )
            assert topup.status_code == 201
        assert await audit_rows(db, "client.demo_balance") == []
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_ledger_lists_the_clients_lines_newest_first(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_7001")
    other = await make_client(db, "tg_7002")
    await history(db, c.id)
    await post(db, "topup", [(other.id, "USD", 100), ("usdt_received", "USD", -100)])

    response = await admin_client.get(f"{CLIENTS}/{c.id}/ledger", params={"limit": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    # The fx transaction has two client lines (USD out, EUR in): 6 lines in all.
    assert body["pagination"] == {"page": 1, "limit": 3, "total": 6, "total_pages": 2}
    assert [line["kind"] for line in body["data"]] == [
        "card_refund",
        "card_spend",
        "subscription_fee",
    ]
    first = body["data"][0]
    assert (first["currency"], first["amount"]) == ("USD", "2.00")
    assert body["data"][1]["amount"] == "-15.00"
    assert set(first) == {
        "id",
        "transaction_id",
        "kind",
        "currency",
        "amount",
        "note",
        "actor",
        "reference_type",
        "reference_id",
        "idempotency_key",
        "created_at",
    }
    rest = (
        await admin_client.get(f"{CLIENTS}/{c.id}/ledger", params={"page": 2, "limit": 3})
    ).json()
    assert sorted((line["kind"], line["amount"]) for line in rest["data"]) == [
        ("fx", "-20.00"),
        ("fx", "18.00"),
        ("topup", "97.00"),
    ]
    assert (await admin_client.get(f"{CLIENTS}/{uuid.uuid4()}/ledger")).status_code == 404
    bad = await admin_client.get(f"{CLIENTS}/{c.id}/ledger", params={"limit": 1000})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_QUERY")


async def test_a_banned_client_is_refused_by_the_client_api(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(bot_api_token="bot-token-for-admin-tests"))
    try:
        db = app.state.db
        free = await make_plan(db, "Free")
        c = await make_client(db, "tg_8001")
        op = await create_operator(db, "ban@example.com")
        bot = {"X-Bot-Token": "bot-token-for-admin-tests"}
        select_plan = "/api/botcartd/plan/select"
        async with client_for(app) as admin, client_for(app) as http:
            await sign_in(admin, op)
            banned = await admin.patch(f"{CLIENTS}/{c.id}", json={"banned": True})
            assert banned.status_code == 200
            refused = await http.post(
                select_plan,
                params={"externalUserId": "tg_8001"},
                json={"plan_id": str(free.id)},
                headers=bot,
            )
            assert (refused.status_code, refused.json()["code"]) == (403, "CLIENT_BANNED")
            # It still reads.
            state = await http.get(
                "/api/botcartd/state", params={"externalUserId": "tg_8001"}, headers=bot
            )
            assert state.status_code == 200

            await admin.patch(f"{CLIENTS}/{c.id}", json={"banned": False})
            allowed = await http.post(
                select_plan,
                params={"externalUserId": "tg_8001"},
                json={"plan_id": str(free.id)},
                headers=bot,
            )
            assert allowed.status_code == 200, allowed.text
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_notifications_newest_first_with_the_bot_block_and_threshold(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_7001", low_balance_threshold=5000)
    base = utcnow() - timedelta(hours=1)
    code = await told(db, c.id, "code_3ds", "sent", created_at=base, deleted=True)
    failed = await told(
        db,
        c.id,
        "card_declined",
        "failed",
        created_at=base + timedelta(minutes=1),
        attempts=10,
        last_error="502 Bad Gateway",
    )
    blocked = await told(
        db,
        c.id,
        "topup_credited",
        "blocked",
        created_at=base + timedelta(minutes=2),
        last_error="Forbidden: bot was blocked by the user",
    )
    await block_bot(db, c.id, base + timedelta(minutes=2))

    response = await admin_client.get(f"{CLIENTS}/{c.id}/notifications")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["low_balance_threshold"] == "50.00"
    assert body["bot_blocked_at"] is not None
    assert [n["id"] for n in body["data"]] == [str(blocked), str(failed), str(code)]
    first, second, third = body["data"]
    assert (first["kind"], first["status"]) == ("topup_credited", "blocked")
    assert (second["status"], second["attempts"], second["last_error"]) == (
        "failed",
        10,
        "502 Bad Gateway",
    )
    assert second["sent_at"] is None
    assert third["status"] == "sent"
    assert third["sent_at"] is not None
    assert third["deleted_at"] is not None
    # Nothing is written for a client who blocked the bot.
    async with db.transaction() as session:
        assert not await notifications.enqueue(
            session, client_id=c.id, kind="low_balance", key="x", params=PARAMS["low_balance"]
        )


async def test_notifications_of_a_quiet_client_and_of_no_client(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "web_quiet")
    body = (await admin_client.get(f"{CLIENTS}/{c.id}/notifications")).json()
    assert body == {"bot_blocked_at": None, "low_balance_threshold": None, "data": []}
    assert (await admin_client.get(f"{CLIENTS}/{uuid.uuid4()}/notifications")).status_code == 404


async def test_notifications_keep_the_latest_fifty(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_7002")
    base = utcnow() - timedelta(hours=2)
    for i in range(52):
        await told(db, c.id, "low_balance", "sent", created_at=base + timedelta(seconds=i))
    data = (await admin_client.get(f"{CLIENTS}/{c.id}/notifications")).json()["data"]
    assert len(data) == 50
    assert data == sorted(data, key=lambda n: n["created_at"], reverse=True)
