"""Lookup by ID: every kind of id finds its client, web user, order or ledger transaction."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import ChainTransfer, WebUser
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg
from tests.factories import create_merchant, create_payment

URL = "/api/v1/admin/lookup"


async def lookup(admin_client: httpx.AsyncClient, text: str) -> list[dict[str, Any]]:
    response = await admin_client.get(URL, params={"id": text})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def kinds(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["type"], r["id"]) for r in results]


async def test_clients_and_web_users(admin_client: httpx.AsyncClient, db: Database) -> None:
    async with db.transaction() as session:
        client = await clients.upsert_client(session, "tg_9001", display_name="Gus")
        user = WebUser(email="gus@example.com", password_hash="x", external_user_id="tg_9001")
        session.add(user)
    found = await lookup(admin_client, str(client.id))
    assert found == [
        {
            "type": "client",
            "id": str(client.id),
            "label": "tg_9001 · Gus",
            "url": f"/api/v1/admin/clients/{client.id}",
        }
    ]
    # The bot id names the client and the login linked to it.
    assert kinds(await lookup(admin_client, " tg_9001 ")) == [
        ("client", str(client.id)),
        ("web_user", str(user.id)),
    ]
    by_email = await lookup(admin_client, "GUS@example.com")
    assert by_email == [
        {
            "type": "web_user",
            "id": str(user.id),
            "label": "gus@example.com (pending)",
            "url": f"/api/v1/admin/web-users?search={user.id}",
        }
    ]
    assert kinds(await lookup(admin_client, str(user.id))) == [("web_user", str(user.id))]
    # Exact ids only: a part finds nothing.
    assert await lookup(admin_client, "tg_900") == []
    assert await lookup(admin_client, str(uuid.uuid4())) == []


async def test_orders_by_each_of_their_ids(
    app: FastAPI, admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    merchant = await create_merchant(db)
    order = await create_payment(client, merchant, external_id="inv-77", amount="12.5")
    tx_hash = "ab" * 32
    async with db.transaction() as session:
        session.add(
            ChainTransfer(
                tx_hash=tx_hash,
                event_index=0,
                block_number=1,
                block_timestamp=utcnow(),
                from_address="TXfromAddress",
                to_address=order["address"],
                amount=12_500_000,
                order_id=uuid.UUID(order["id"]),
            )
        )
    expected = {
        "type": "order",
        "id": order["id"],
        "label": "inv-77 · 12.500000 USDT · pending",
        "url": f"/api/v1/admin/orders/{order['id']}",
    }
    for text in (order["id"], order["address"], tx_hash):
        assert await lookup(admin_client, text) == [expected], text
    # The merchant's own order number is unique per merchant only (no index of its own).
    assert await lookup(admin_client, "inv-77") == []
    # The url is the order's admin path indeed.
    detail = await admin_client.get(expected["url"])
    assert detail.status_code == 200


async def test_ledger_transactions_by_id_and_idempotency_key(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        client = await clients.upsert_client(session, "tg_9002")
        wallet = await wallets.wallet(session, client.id, "USD")
        source = await wallets.system_account(session, "usdt_received", "USD")
        entry = await wallets.post(
            session, "topup", "topup:order-x", [Leg(wallet, "USD", 500), Leg(source, "USD", -500)]
        )
        fx = await wallets.system_account(session, "fx", "USD")
        rounding = await wallets.system_account(session, "rounding", "USD")
        internal = await wallets.post(
            session, "fx", "fx:internal", [Leg(fx, "USD", 1), Leg(rounding, "USD", -1)]
        )
    [by_key] = await lookup(admin_client, "topup:order-x")
    assert by_key["type"] == "ledger_transaction"
    assert by_key["id"] == str(entry.id)
    assert by_key["label"].startswith("topup · ")
    assert by_key["url"] == f"/api/v1/admin/clients/{client.id}/ledger"
    assert await lookup(admin_client, str(entry.id)) == [by_key]
    ledger = await admin_client.get(by_key["url"])
    assert ledger.json()["data"][0]["transaction_id"] == str(entry.id)
    # A transaction between system accounts only has no client page.
    [system] = await lookup(admin_client, str(internal.id))
    assert (system["type"], system["url"]) == ("ledger_transaction", None)


async def test_an_empty_or_missing_id_is_invalid_query(admin_client: httpx.AsyncClient) -> None:
    for params in ({"id": ""}, {"id": "   "}, {}):
        response = await admin_client.get(URL, params=params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "INVALID_QUERY"
    long = await admin_client.get(URL, params={"id": "x" * 400})
    assert (long.status_code, long.json()["code"]) == (400, "INVALID_QUERY")


async def test_cards_and_card_transactions_by_our_ids_and_the_issuers(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    from tests.card_transaction_review.test_card_transactions import create_card, create_tx
    from tests.clients.test_auth import make_client

    ann = await make_client(db, "tg_9003")
    card = await create_card(db, ann)
    tx = await create_tx(db, card, amount=1250, merchant="Book Shop", status="approved")
    by_issuer = await lookup(admin_client, card.issuer_card_id)
    assert kinds(by_issuer) == [("card", str(card.id))]
    assert by_issuer[0]["label"] == "EUR card ··4242 · active"
    assert by_issuer[0]["url"] == f"/api/v1/admin/clients/{ann.id}/cards"
    assert await lookup(admin_client, str(card.id)) == by_issuer
    [found] = await lookup(admin_client, tx.issuer_transaction_id)
    assert (found["type"], found["id"]) == ("card_transaction", str(tx.id))
    assert found["label"] == "12.50 EUR · Book Shop · approved"
    assert found["url"] == f"/api/v1/admin/card-transactions?card_id={card.id}"
    assert await lookup(admin_client, str(tx.id)) == [found]
    listed = await admin_client.get(found["url"])
    assert [row["id"] for row in listed.json()["data"]] == [str(tx.id)]


async def test_a_topup_by_its_id_and_its_orders(
    app: FastAPI, admin_client: httpx.AsyncClient, db: Database
) -> None:
    from tests.clients.test_auth import make_client
    from tests.topups.helpers import create_topup, topup_row

    ann = await make_client(db, "tg_9004")
    created = await create_topup(app, ann.id, 25_000_000)
    row = await topup_row(db, created.topup.id)
    found = await lookup(admin_client, str(row.id))
    assert ("topup", str(row.id)) in kinds(found)
    [topup] = [r for r in found if r["type"] == "topup"]
    assert topup["label"] == "top-up 25.000000 USDT · pending"
    assert topup["url"] == f"/api/v1/admin/orders/{row.order_id}"
    by_order = kinds(await lookup(admin_client, str(row.order_id)))
    assert ("topup", str(row.id)) in by_order
    assert ("order", str(row.order_id)) in by_order
