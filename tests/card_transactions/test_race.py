"""Concurrent authorizations on PostgreSQL: never two approvals that together overdraw a wallet,
never more than a card's monthly limit, one decision per issuer transaction id."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from paywarden.card_transactions import service
from paywarden.issuer.base import AuthorizationRequest, Decision
from paywarden.kit.db import Database, PoolOptions
from paywarden.models import Card, CardTransaction, LedgerHold
from tests.card_transactions.conftest import (
    Buyer,
    card_row,
    ledger_ok,
    make_buyer,
    request_for,
    wallet,
)
from tests.conftest import _is_postgres

pytestmark = pytest.mark.skipif(not _is_postgres(), reason="SQLite has one writer at a time")
WRITERS = 20


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, PoolOptions(size=WRITERS, max_overflow=0))
    yield db
    await db.dispose()


async def _authorize(pool: Database, req: AuthorizationRequest) -> Decision:
    async with pool.transaction() as session:
        return await service.authorize(session, "sandbox", req, datetime.now(UTC))


async def _second_card(pool: Database, buyer: Buyer) -> str:
    """Another card of the same client and wallet: its lock is not the first card's."""
    async with pool.transaction() as session:
        card = Card(
            client_id=buyer.client_id,
            issuer="sandbox",
            issuer_card_id=f"card_{uuid.uuid4().hex[:12]}",
            currency="EUR",
            monthly_limit=1_000_000,
            spent_this_month=0,
            status="active",
        )
        session.add(card)
        return card.issuer_card_id


async def test_concurrent_authorizations_never_overdraw(pool: Database) -> None:
    buyer = await make_buyer(pool, funds=10_000, monthly_limit=1_000_000)
    cards = [buyer.issuer_card_id, await _second_card(pool, buyer)]
    requests = [request_for(cards[n % 2], 700) for n in range(60)]  # 420.00 asked of 100.00
    decisions = await asyncio.gather(*(_authorize(pool, r) for r in requests))
    approved = [d for d in decisions if d.approved]
    assert len(approved) == 14  # floor(10_000 / 700)
    assert {d.decline_reason for d in decisions if not d.approved} == {"insufficient_funds"}
    w = await wallet(pool, buyer.client_id)
    assert w.reserved == 14 * 700
    assert w.available >= 0
    async with pool.transaction() as session:
        held = await session.scalar(select(func.sum(LedgerHold.amount)))
        rows = await session.scalar(select(func.count()).select_from(CardTransaction))
    assert (held, rows) == (9_800, 60)
    await ledger_ok(pool)


async def test_concurrent_authorizations_respect_the_monthly_limit(pool: Database) -> None:
    buyer = await make_buyer(pool, funds=1_000_000, monthly_limit=5_000)
    decisions = await asyncio.gather(
        *(_authorize(pool, request_for(buyer.issuer_card_id, 600)) for _ in range(30))
    )
    assert sum(d.approved for d in decisions) == 8  # floor(5_000 / 600)
    assert (await card_row(pool, buyer.card_id)).spent_this_month == 4_800


async def test_concurrent_repeats_of_one_request_hold_once(pool: Database) -> None:
    buyer = await make_buyer(pool, funds=10_000)
    req = request_for(buyer.issuer_card_id, 1_000, tx_id="tx_repeated")
    decisions = await asyncio.gather(*(_authorize(pool, req) for _ in range(WRITERS)))
    assert all(d.approved for d in decisions)
    assert (await wallet(pool, buyer.client_id)).reserved == 1_000
