"""Builders for the cards tests: a client on a plan with an active subscription, funded wallets,
and a stand-in card issuer (the outside world) that records what it was asked."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from paywarden.config import Settings
from paywarden.issuer.base import (
    AuthorizationRequest,
    CardDetails,
    Decision,
    Health,
    IssuedCard,
    IssuerError,
    IssuerEventData,
    ProfileCheck,
)
from paywarden.kit.db import Database
from paywarden.models import Card, Client, Plan
from paywarden.subscriptions import service as subscriptions
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN, bot_headers
from tests.subscriptions.conftest import make_plan, new_client

CARDS = "/api/botcartd/cards"


@dataclass
class FakeIssuer:
    """A card issuer out there: keeps its cards, answers or fails as a test tells it to."""

    name: str = "fake"
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, list[IssuerError]] = field(default_factory=dict)  # per method, in order
    # Runs inside create_card, after the card exists: what else happens meanwhile.
    on_create: Callable[[], Awaitable[None]] | None = None

    def _maybe_fail(self, method: str) -> None:
        queued = self.fail.get(method)
        if queued:
            raise queued.pop(0)

    async def create_card(
        self, *, currency: str, monthly_limit: int, label: str | None, reference: str
    ) -> IssuedCard:
        self.calls.append(("create_card", reference))
        self._maybe_fail("create_card")
        existing = next((k for k, c in self.cards.items() if c["reference"] == reference), None)
        issuer_card_id = existing or f"fc_{uuid.uuid4().hex[:12]}"
        if existing is None:
            pan = "4000" + str(uuid.uuid4().int)[:12]
            self.cards[issuer_card_id] = {
                "reference": reference,
                "currency": currency,
                "limit": monthly_limit,
                "label": label,
                "status": "active",
                "pan": pan,
                "cvv": str(uuid.uuid4().int)[:3].rjust(3, "7"),
            }
        if self.on_create is not None:
            await self.on_create()
        return IssuedCard(issuer_card_id, self.cards[issuer_card_id]["pan"][-4:], "active")

    async def _set(self, method: str, issuer_card_id: str, **values: Any) -> None:
        self.calls.append((method, issuer_card_id))
        self._maybe_fail(method)
        self.cards[issuer_card_id].update(values)

    async def freeze(self, issuer_card_id: str) -> None:
        await self._set("freeze", issuer_card_id, status="frozen")

    async def unfreeze(self, issuer_card_id: str) -> None:
        await self._set("unfreeze", issuer_card_id, status="active")

    async def close(self, issuer_card_id: str) -> None:
        await self._set("close", issuer_card_id, status="closed")

    async def set_limit(self, issuer_card_id: str, monthly_limit: int) -> None:
        await self._set("set_limit", issuer_card_id, limit=monthly_limit)

    async def card_details(self, issuer_card_id: str) -> CardDetails:
        self.calls.append(("card_details", issuer_card_id))
        self._maybe_fail("card_details")
        card = self.cards[issuer_card_id]
        return CardDetails(card["pan"], "12/29", card["cvv"])

    async def balances(self) -> dict[str, int]:
        return {"EUR": 0, "USD": 0}

    async def validate_profile(self, profile: Any) -> ProfileCheck:
        return ProfileCheck(ok=False, external_id=None, reason="not in this fake")

    async def health(self) -> Health:
        return Health(ok=True, detail="fake")

    def verify(self, headers: Any, raw_body: bytes, now: datetime) -> None:
        raise NotImplementedError("the fake issuer sends nothing")

    def parse_authorization(self, payload: Any) -> AuthorizationRequest:
        raise ValueError("the fake issuer sends nothing")

    def authorization_answer(self, decision: Decision) -> dict[str, object]:
        return {"approved": decision.approved}

    def parse_event(self, payload: Any) -> IssuerEventData:
        raise ValueError("the fake issuer sends nothing")

    async def aclose(self) -> None:
        return None

    def made(self) -> int:
        return sum(1 for c in self.calls if c[0] == "create_card")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN)


@pytest.fixture
def issuer(app: FastAPI) -> Iterator[FakeIssuer]:
    """The app talks to this issuer for the test."""
    previous = getattr(app.state, "issuer", None)
    fake = FakeIssuer()
    app.state.issuer = fake
    yield fake
    app.state.issuer = previous


@dataclass
class Holder:
    """A client of the cards product and how the bot calls the API for it."""

    id: uuid.UUID
    external_user_id: str
    plan: Plan

    @property
    def params(self) -> dict[str, str]:
        return {"externalUserId": self.external_user_id}

    @property
    def headers(self) -> dict[str, str]:
        return bot_headers()


async def make_holder(db: Database, *, eur: int = 0, usd: int = 0, **plan: Any) -> Holder:
    """A client on a fresh plan (free unless told) whose subscription is active when it can be
    paid: included 1 card, cap 3, issue fee 5.00 EUR unless told."""
    made_plan = await make_plan(db, **plan)
    client_id = await new_client(db, eur=eur, usd=usd)
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.plan_id = made_plan.id
        await subscriptions.ensure(session, client)
        return Holder(client_id, client.external_user_id, made_plan)


async def set_client(db: Database, client_id: uuid.UUID, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(update(Client).where(Client.id == client_id).values(**values))


async def card_rows(db: Database, client_id: uuid.UUID) -> list[Card]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Card).where(Card.client_id == client_id).order_by(Card.created_at)
        )
        return list(rows.all())


async def issue(
    http: httpx.AsyncClient,
    holder: Holder,
    currency: str = "EUR",
    limit: str = "500.00",
    **more: Any,
) -> httpx.Response:
    return await http.post(
        CARDS,
        params=holder.params,
        headers=holder.headers,
        json={"currency": currency, "monthly_limit": limit, **more},
    )
