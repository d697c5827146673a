"""The authorization's hot path stays a few Core statements (bench/authorize_profile.py measures
what each costs), and the rare paths around it still decide as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import event

from paywarden.card_transactions import service
from paywarden.config import Settings
from paywarden.issuer.base import AuthorizationRequest, Decision
from paywarden.kit.db import Database
from tests.card_transactions.conftest import (
    authorization,
    authorize,
    make_buyer,
    request_for,
    tx_row,
    wallet,
)
from tests.conftest import _is_postgres


async def _counted(db: Database, req: AuthorizationRequest) -> tuple[Decision, int]:
    """The decision and the statements its database transaction sent."""
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.transaction() as session:
            decision = await service.authorize(session, "sandbox", req, datetime.now(UTC))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return decision, statements


@pytest.fixture
async def own_db(database_url: str) -> AsyncIterator[Database]:
    """A database of the test's own: no app's background work shares its engine."""
    db = Database(database_url)
    yield db
    await db.dispose()


async def test_a_decision_takes_a_few_statements(own_db: Database) -> None:
    db = own_db
    buyer = await make_buyer(db, funds=5_000)
    first = request_for(buyer.issuer_card_id, 3_000)
    assert await _counted(db, first) == (
        Decision(True),
        # PostgreSQL: the context with the card and wallet locked; the holds and the recorded
        # decision, read after the lock; the hold, row and spend in one statement. SQLite:
        # BEGIN IMMEDIATE, the whole context, then the hold, the row and the card's spend.
        # Both: the client's notification, one INSERT ... SELECT (none written for this web_
        # client, the statement still runs).
        4 if _is_postgres() else 6,
    )
    # Past the available balance: the context, the declined row alone, the notification.
    declined = await _counted(db, request_for(buyer.issuer_card_id, 2_001))
    assert declined == (Decision(False, "insufficient_funds"), 4)
    # A repeat is answered from the context: nothing written.
    assert await _counted(db, first) == (Decision(True), 2)


async def test_a_card_whose_wallet_does_not_exist_yet_is_declined_insufficient_funds(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, currency="USD", funds=0)  # the client has no wallet at all
    body = authorization(buyer, 100)
    assert await authorize(client, settings, body) == {"approved": False, "response_code": "51"}
    assert (await tx_row(db, body["transaction_id"])).decline_reason == "insufficient_funds"
    usd = await wallet(db, buyer.client_id, "USD")
    assert (usd.balance, usd.reserved) == (0, 0)
