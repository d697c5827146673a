"""The support / anti-fraud views of card transactions: the filtered list and the seed's
breakdown tabs, on rows written straight to the table (the authorization code writes them in
production)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest

from paywarden.audit.context import CLI
from paywarden.kit.db import Database
from paywarden.kit.time import iso
from paywarden.models import Card, CardTransaction, Client
from paywarden.plans import service as plans
from tests.clients.test_auth import make_client

LIST = "/api/v1/admin/card-transactions"
BREAKDOWN = "/api/v1/admin/card-transactions/breakdown"
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_seq = count(1)


async def create_card(db: Database, client: Client, currency: str = "EUR") -> Card:
    async with db.transaction() as session:
        card = Card(
            client_id=client.id,
            issuer="sandbox",
            issuer_card_id=f"card_{uuid.uuid4().hex[:12]}",
            currency=currency,
            monthly_limit=100_000,
            spent_this_month=0,
            status="active",
            last4="4242",
        )
        session.add(card)
    return card


async def create_tx(db: Database, card: Card, **values: Any) -> CardTransaction:
    columns: dict[str, Any] = {
        "card_id": card.id,
        "client_id": card.client_id,
        "issuer": "sandbox",
        "issuer_transaction_id": f"tx_{next(_seq)}",
        "status": "settled",
        "amount": 1000,
        "currency": card.currency,
        "fx_fee": 0,
        "merchant_amount": 1000,
        "merchant_currency": card.currency,
        "merchant": "Amazon EU",
        "mcc": "5311",
        "country": "DE",
        "three_ds": False,
        "refunded_amount": 0,
        "created_at": DAY,
    }
    columns.update(values)
    async with db.transaction() as session:
        tx = CardTransaction(**columns)
        session.add(tx)
    return tx


@pytest.fixture
async def shop(db: Database) -> dict[str, Any]:
    """Two clients, three cards, a handful of purchases over three days."""
    ann = await make_client(db, "tg_100")
    bob = await make_client(db, "tg_200")
    ann_eur, ann_usd = await create_card(db, ann), await create_card(db, ann, "USD")
    bob_eur = await create_card(db, bob)
    txs = {
        "a1": await create_tx(db, ann_eur, amount=3000, settled_amount=2950),
        "a2": await create_tx(
            db,
            ann_eur,
            status="approved",
            amount=1250,
            fx_fee=25,
            merchant_amount=1300,
            merchant_currency="USD",
            merchant="Steam Games",
            mcc="5816",
            country="US",
            created_at=DAY + timedelta(hours=1),
        ),
        "a3": await create_tx(
            db,
            ann_usd,
            status="declined",
            decline_reason="insufficient_funds",
            raw_code="51",
            amount=90000,
            merchant="Steam Games",
            mcc="5816",
            country="US",
            created_at=DAY + timedelta(days=1),
        ),
        "a4": await create_tx(db, ann_usd, amount=5000, created_at=DAY + timedelta(days=1)),
        "b1": await create_tx(
            db,
            bob_eur,
            status="declined",
            decline_reason="card_inactive",
            merchant="Steam Games",
            mcc="5816",
            created_at=DAY + timedelta(days=2),
        ),
        "b2": await create_tx(
            db,
            bob_eur,
            status="declined",
            decline_reason="insufficient_funds",
            merchant="Uber Trip",
            mcc="4121",
            country="NL",
            created_at=DAY + timedelta(days=2, hours=1),
        ),
        "b3": await create_tx(
            db, bob_eur, status="reversed", amount=700, created_at=DAY + timedelta(days=2)
        ),
    }
    return {"ann": ann, "bob": bob, "ann_eur": ann_eur, "ann_usd": ann_usd, "txs": txs}


async def ids(admin: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await admin.get(LIST, params=params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


async def test_a_transaction_shows_its_fields(
    admin_client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    a2 = shop["txs"]["a2"]
    body = (await admin_client.get(LIST, params={"client_id": str(shop["ann"].id)})).json()
    assert body["pagination"]["total"] == 4
    row = next(r for r in body["data"] if r["id"] == str(a2.id))
    assert row == {
        "id": str(a2.id),
        "card_id": str(shop["ann_eur"].id),
        "card_last4": "4242",
        "client_id": str(shop["ann"].id),
        "client_external_user_id": "tg_100",
        "issuer": "sandbox",
        "issuer_transaction_id": a2.issuer_transaction_id,
        "status": "approved",
        "decline_reason": None,
        "raw_code": None,
        "amount": "12.50",
        "currency": "EUR",
        "fx_fee": "0.25",
        "merchant_amount": "13.00",
        "merchant_currency": "USD",
        "settled_amount": None,
        "refunded_amount": "0.00",
        "merchant": "Steam Games",
        "mcc": "5816",
        "country": "US",
        "three_ds": False,
        "created_at": "2026-03-10T13:00:00.000Z",
        "settled_at": None,
    }


async def test_filters(admin_client: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    t = {k: str(v.id) for k, v in shop["txs"].items()}
    # Newest first (ties in a fixed order, so paging is stable).
    everything = await ids(admin_client)
    assert everything[0] == t["b2"]
    assert set(everything[1:3]) == {t["b1"], t["b3"]}
    assert set(everything[3:5]) == {t["a3"], t["a4"]}
    assert everything[5:] == [t["a2"], t["a1"]]
    assert set(await ids(admin_client, card_id=str(shop["ann_usd"].id))) == {t["a3"], t["a4"]}
    assert await ids(admin_client, status="declined", client_id=str(shop["bob"].id)) == [
        t["b2"],
        t["b1"],
    ]
    assert set(await ids(admin_client, decline_reason="insufficient_funds")) == {t["a3"], t["b2"]}
    assert set(await ids(admin_client, merchant="steam")) == {t["a2"], t["a3"], t["b1"]}
    assert await ids(admin_client, merchant="100%") == []  # wildcards are literal
    assert set(await ids(admin_client, mcc="5816", country="us")) == {t["a2"], t["a3"]}
    # Dates: a day covers all of it; times are inclusive to the millisecond; camelCase too.
    assert set(await ids(admin_client, **{"from": "2026-03-11", "to": "2026-03-11"})) == {
        t["a3"],
        t["a4"],
    }
    assert set(await ids(admin_client, to=iso(DAY + timedelta(hours=1)))) == {t["a1"], t["a2"]}
    assert set(await ids(admin_client, **{"from": "2026-03-12T12:30:00+00:00"})) == {t["b2"]}
    assert set(await ids(admin_client, clientId=str(shop["bob"].id), status="reversed")) == {
        t["b3"]
    }
    paged = (await admin_client.get(LIST, params={"page": 2, "limit": 3})).json()
    assert paged["pagination"] == {"page": 2, "limit": 3, "total": 7, "total_pages": 3}
    assert [r["id"] for r in paged["data"]] == everything[3:6]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"decline_reason": "bad_luck"},
        {"client_id": "not-an-id"},
        {"mcc": "54"},
        {"country": "DEU"},
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"to": "9999-12-31"},  # out of range: the window's arithmetic would overflow
        {"from": "0001-01-01"},
        {"from": "2026-03-12", "to": "2026-03-11"},
        {"limit": "0"},
    ],
)
async def test_bad_queries_are_400(admin_client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await admin_client.get(LIST, params=params)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_QUERY"), params


async def breakdown(admin: httpx.AsyncClient, by: str, **params: Any) -> list[dict[str, Any]]:
    params = {"from": "2026-03-01", "to": "2026-03-31", **params}
    response = await admin.get(BREAKDOWN, params={"by": by, **params})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_breakdown_by_merchant_and_mcc(
    admin_client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    merchants = await breakdown(admin_client, "merchant")
    assert [(g["key"], g["count"], g["approved"], g["declined"]) for g in merchants] == [
        ("Amazon EU", 3, 3, 0),  # a1, a4, b3 (reversed: it was approved)
        ("Steam Games", 3, 1, 2),
        ("Uber Trip", 1, 0, 1),
    ]
    amazon, steam = merchants[0], merchants[1]
    # Volume: approved, settled and refunded ones (settled ones at their settled amount).
    assert amazon["volume"] == {"EUR": "29.50", "USD": "50.00"}
    assert amazon["approval_rate"] == "100.00"
    assert steam["volume"] == {"EUR": "12.50", "USD": "0.00"}
    assert steam["approval_rate"] == "33.33"
    assert (await breakdown(admin_client, "merchant", limit=1))[0]["key"] == "Amazon EU"
    mcc = await breakdown(admin_client, "mcc")
    assert [(g["key"], g["count"]) for g in mcc] == [("5311", 3), ("5816", 3), ("4121", 1)]


async def test_breakdown_by_decline_reason(
    admin_client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    reasons = await breakdown(admin_client, "decline_reason")
    assert [(g["key"], g["count"], g["declined"]) for g in reasons] == [
        ("insufficient_funds", 2, 2),
        ("card_inactive", 1, 1),
    ]
    assert reasons[0]["approval_rate"] == "0.00"
    window = await breakdown(admin_client, "decline_reason", **{"from": "2026-03-12"})
    assert [(g["key"], g["count"]) for g in window] == [
        ("card_inactive", 1),
        ("insufficient_funds", 1),
    ]


async def test_breakdown_by_client(
    admin_client: httpx.AsyncClient, shop: dict[str, Any], db: Database
) -> None:
    ann, bob = str(shop["ann"].id), str(shop["bob"].id)
    volume = await breakdown(admin_client, "client_volume")
    assert [(g["key"], g["label"], g["count"]) for g in volume] == [
        (ann, "tg_100", 4),
        (bob, "tg_200", 3),
    ]
    assert volume[0]["volume"] == {"EUR": "42.00", "USD": "50.00"}
    assert volume[1]["volume"] == {"EUR": "0.00", "USD": "0.00"}
    declines = await breakdown(admin_client, "client_declines")
    assert [(g["key"], g["declined"], g["approval_rate"]) for g in declines] == [
        (bob, 2, "33.33"),
        (ann, 1, "75.00"),
    ]
    # Ranking by volume counts USD at the operators' rate: a big USD spender can come first.
    big = await create_card(db, await make_client(db, "tg_300"), "USD")
    await create_tx(db, big, amount=20000)
    async with db.transaction() as session:
        # 1 EUR = 1.10 USD: 200 USD ≈ 181.82 EUR, past ann's 42 EUR + 50 USD ≈ 87.45 EUR.
        await plans.set_rate(session, 1_100_000, CLI)
    assert next(g["label"] for g in await breakdown(admin_client, "client_volume")) == "tg_300"
    async with db.transaction() as session:
        # 1 EUR = 9 USD: 200 USD ≈ 22.22 EUR, below ann's 42 EUR + 50 USD ≈ 47.56 EUR.
        await plans.set_rate(session, 9_000_000, CLI)
    assert next(g["label"] for g in await breakdown(admin_client, "client_volume")) == "tg_100"


async def test_breakdown_window_and_refusals(
    admin_client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    # Without `from`: the 30 days up to `to`.
    response = await admin_client.get(BREAKDOWN, params={"by": "merchant", "to": "2026-04-05"})
    body = response.json()
    assert body["from"] == "2026-03-06T23:59:59.999Z"
    assert body["to"] == "2026-04-05T23:59:59.999Z"
    assert sum(g["count"] for g in body["data"]) == 7
    empty = await admin_client.get(BREAKDOWN, params={"by": "mcc", "to": "2026-03-01"})
    assert empty.json()["data"] == []
    for params in (
        {},
        {"by": "country"},
        {"by": "merchant", "limit": "101"},
        {"by": "merchant", "from": "2026-03-12", "to": "2026-03-01"},
    ):
        refused = await admin_client.get(BREAKDOWN, params=params)
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_QUERY"), params
