"""Builders for authorization and inbox tests: a funded client with a card, and the sandbox
issuer's signed requests (its own JSON, signed with the configured secret) sent to our app."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.issuer import signing
from paywarden.issuer.base import AuthorizationRequest
from paywarden.kit.db import Database
from paywarden.models import Card, CardTransaction, Client, Code3ds, IssuerEvent, LedgerHold
from paywarden.wallets import service as wallets
from paywarden.wallets.service import WalletBalance
from tests.subscriptions.conftest import make_plan, new_client

AUTHORIZE = "/api/v1/issuer/sandbox/authorize"
WEBHOOKS = "/api/v1/issuer/sandbox/webhooks"


@dataclass
class Buyer:
    client_id: uuid.UUID
    card_id: uuid.UUID
    issuer_card_id: str
    currency: str


async def make_buyer(
    db: Database,
    *,
    currency: str = "EUR",
    funds: int = 10_000,
    monthly_limit: int = 50_000,
    fx_fee_bps: int = 0,
    status: str = "active",
    issuer_card_id: str | None = None,
) -> Buyer:
    """A client on a plan with `funds` cents in the card's currency, and one card (a row as the
    cards service would have written it; the issuer side is not asked)."""
    plan = await make_plan(db, fx_fee_bps=fx_fee_bps)
    client_id = await new_client(db, **{currency.lower(): funds})
    issuer_card_id = issuer_card_id or f"card_{uuid.uuid4().hex[:12]}"
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.plan_id = plan.id
        card = Card(
            client_id=client_id,
            issuer="sandbox",
            issuer_card_id=issuer_card_id,
            currency=currency,
            monthly_limit=monthly_limit,
            spent_this_month=0,
            status=status,
            last4="4242",
        )
        session.add(card)
        await session.flush()
        return Buyer(client_id, card.id, issuer_card_id, currency)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def signed(settings: Settings, body: dict[str, Any], *, at: int | None = None) -> dict[str, Any]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = signing.sign(settings.issuer_secrets()[:1], raw, at or int(time.time()))
    return {"content": raw, "headers": {**headers, "Content-Type": "application/json"}}


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def authorization(
    buyer: Buyer,
    amount: int,
    *,
    tx_id: str | None = None,
    merchant_amount: int | None = None,
    merchant_currency: str | None = None,
    three_ds: bool = False,
    merchant: str = "Coffee Shop",
) -> dict[str, Any]:
    """The sandbox's authorization request for a purchase of `amount` cents (billing)."""
    return {
        "id": f"authreq_{uuid.uuid4().hex[:10]}",
        "transaction_id": tx_id or f"tx_{uuid.uuid4().hex[:12]}",
        "card_id": buyer.issuer_card_id,
        "billing_amount": money(amount),
        "billing_currency": buyer.currency,
        "transaction_amount": money(merchant_amount if merchant_amount is not None else amount),
        "transaction_currency": merchant_currency or buyer.currency,
        "merchant": {"name": merchant, "mcc": "5814", "country": "DE"},
        "three_ds_authenticated": three_ds,
        "created_at": _iso(datetime.now(UTC)),
    }


def request_for(issuer_card_id: str, amount: int, tx_id: str | None = None) -> AuthorizationRequest:
    """An authorization as the service takes it (parsed, no HTTP): `amount` EUR cents."""
    return AuthorizationRequest(
        issuer_transaction_id=tx_id or f"tx_{uuid.uuid4().hex}",
        issuer_card_id=issuer_card_id,
        amount=amount,
        currency="EUR",
        merchant_amount=amount,
        merchant_currency="EUR",
        merchant="Race Shop",
        mcc="5999",
        country="DE",
        three_ds=None,
        occurred_at=datetime.now(UTC),
    )


def event(
    raw_type: str, data: dict[str, Any], *, event_id: str | None = None, ago: float = 0
) -> dict[str, Any]:
    """A sandbox webhook (`ago`: seconds since it happened, for the lag)."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:12]}",
        "type": raw_type,
        "created_at": _iso(datetime.now(UTC) - timedelta(seconds=ago)),
        "data": data,
    }


def tx_data(buyer: Buyer, tx_id: str, amount: int, **more: Any) -> dict[str, Any]:
    return {
        "transaction_id": tx_id,
        "card_id": buyer.issuer_card_id,
        "amount": money(amount),
        "currency": buyer.currency,
        "merchant": {"name": "Coffee Shop", "mcc": "5814", "country": "DE"},
        **more,
    }


async def authorize(
    http: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(AUTHORIZE, **signed(settings, body))
    assert response.status_code == 200, response.text
    return response.json()


async def send(http: httpx.AsyncClient, settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(WEBHOOKS, **signed(settings, body))
    assert response.status_code == 200, response.text
    return response.json()


async def tx_row(db: Database, tx_id: str) -> CardTransaction:
    async with db.transaction() as session:
        row = await session.scalar(
            select(CardTransaction).where(CardTransaction.issuer_transaction_id == tx_id)
        )
        assert row is not None
        return row


async def card_row(db: Database, card_id: uuid.UUID) -> Card:
    async with db.transaction() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        return card


async def hold_row(db: Database, hold_id: uuid.UUID | None) -> LedgerHold:
    assert hold_id is not None
    async with db.transaction() as session:
        hold = await session.get(LedgerHold, hold_id)
        assert hold is not None
        return hold


async def wallet(db: Database, client_id: uuid.UUID, currency: str = "EUR") -> WalletBalance:
    async with db.transaction() as session:
        return (await wallets.balances(session, client_id))[currency]


async def event_row(db: Database, event_id: str) -> IssuerEvent:
    async with db.transaction() as session:
        row = await session.scalar(select(IssuerEvent).where(IssuerEvent.event_id == event_id))
        assert row is not None
        return row


async def code_rows(db: Database, client_id: uuid.UUID) -> list[Code3ds]:
    async with db.transaction() as session:
        rows = await session.scalars(select(Code3ds).where(Code3ds.client_id == client_id))
        return list(rows.all())


async def ledger_ok(db: Database) -> None:
    async with db.transaction() as session:
        report = await wallets.check(session)
    assert report.ok, report.lines()
