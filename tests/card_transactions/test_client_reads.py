"""What a client reads of its card payments and 3-D Secure codes: its own rows only, filtered
and paged; codes split into live ones (with their value) and past ones (without)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from paywarden.card_transactions import codes
from paywarden.card_transactions import service as card_transactions
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.pagination import PageQuery
from paywarden.kit.time import utcnow
from paywarden.models import CardTransaction, Code3ds
from tests.card_transactions.conftest import (
    Buyer,
    authorization,
    authorize,
    event,
    make_buyer,
    send,
    tx_data,
)


async def add_card_transaction(
    db: Database,
    buyer: Buyer,
    merchant: str,
    *,
    status: str = "approved",
    reason: str | None = None,
    amount: int = 1_250,
    at: datetime | None = None,
    **more: Any,
) -> uuid.UUID:
    """A card transaction row as the authorization and the issuer's events leave it."""
    async with db.transaction() as session:
        row = CardTransaction(
            card_id=buyer.card_id,
            client_id=buyer.client_id,
            issuer="sandbox",
            issuer_transaction_id=f"tx_{uuid.uuid4().hex}",
            status=status,
            decline_reason=reason,
            amount=amount,
            currency=buyer.currency,
            fx_fee=more.pop("fx_fee", 0),
            merchant_amount=more.pop("merchant_amount", amount),
            merchant_currency=more.pop("merchant_currency", buyer.currency),
            merchant=merchant,
            refunded_amount=more.pop("refunded_amount", 0),
            created_at=at or utcnow(),
            **more,
        )
        session.add(row)
        await session.flush()
        return row.id


async def _page(
    db: Database, buyer: Buyer, page: int = 1, limit: int = 20, **filters: Any
) -> tuple[list[str | None], int]:
    async with db.transaction() as session:
        shown = await card_transactions.client_transactions(
            session, buyer.client_id, PageQuery(page=page, limit=limit), **filters
        )
        return [tx.merchant for tx in shown.items], shown.total


async def test_client_transactions_are_its_own_filtered_and_paged(db: Database) -> None:
    buyer = await make_buyer(db)
    other = await make_buyer(db)
    now = utcnow()
    for n in range(5):
        status = "declined" if n % 2 else "settled"
        await add_card_transaction(db, buyer, f"Mine {n}", status=status, at=now - timedelta(n))
    await add_card_transaction(db, other, "Theirs", status="declined")

    assert await _page(db, buyer) == ([f"Mine {n}" for n in range(5)], 5)
    assert await _page(db, buyer, page=2, limit=2) == (["Mine 2", "Mine 3"], 5)
    assert await _page(db, buyer, status="declined") == (["Mine 1", "Mine 3"], 2)
    assert await _page(db, buyer, card_id=buyer.card_id, status="settled") == (
        ["Mine 0", "Mine 2", "Mine 4"],
        3,
    )
    # Another client's card only narrows the client's own rows: to nothing.
    assert await _page(db, buyer, card_id=other.card_id) == ([], 0)
    assert await _page(db, other) == (["Theirs"], 1)


def _in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def _code(
    client: httpx.AsyncClient, settings: Settings, buyer: Buyer, otp: str, minutes: float = 5
) -> str:
    tx_id = f"tx_{uuid.uuid4().hex[:12]}"
    data = tx_data(buyer, tx_id, 1_000, otp=otp, expires_at=_in(minutes))
    await send(client, settings, event("authentication.otp", data))
    return tx_id


async def test_live_and_past_codes(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    other = await make_buyer(db)
    used = await _code(client, settings, buyer, "100001")
    typed = authorization(buyer, 500, tx_id=used, three_ds=True)
    assert (await authorize(client, settings, typed))["approved"]
    lapsed = await _code(client, settings, buyer, "100002")
    async with db.transaction() as session:
        await session.execute(
            update(Code3ds)
            .where(Code3ds.issuer_reference == lapsed)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await _code(client, settings, buyer, "100003")
    await _code(client, settings, other, "200001")

    async with db.transaction() as session:
        live = await codes.live_for(session, buyer.client_id, utcnow())
        past = await codes.past_for(session, buyer.client_id, utcnow())
    assert [(c.code, c.status, c.card_id) for c in live] == [("100003", "pending", buyer.card_id)]
    assert [(c.code, c.status) for c in past] == [(None, "expired"), (None, "used")]
    assert all(c.created_at is not None for c in [*live, *past])
    assert "100003" not in repr(live)  # the value stays out of logs
