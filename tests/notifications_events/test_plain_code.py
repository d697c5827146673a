"""`codes.plain_code`: the bot's sender reads a code in clear at send time, only while it can
still serve (pending and not past its time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from paywarden.card_transactions import codes
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import Code3ds
from tests.card_transactions.conftest import (
    Buyer,
    authorization,
    authorize,
    code_rows,
    event,
    make_buyer,
    send,
    tx_data,
)


async def _plain(db: Database, code_id: uuid.UUID, now: datetime) -> str | None:
    async with db.transaction() as session:
        return await codes.plain_code(session, code_id, now)


async def _issued(
    http: httpx.AsyncClient, settings: Settings, db: Database, tx_id: str, otp: str
) -> tuple[Buyer, Code3ds, datetime]:
    """A client's card and the 3-D Secure code the issuer sent for its purchase `tx_id`,
    valid for five minutes (its expiry)."""
    buyer = await make_buyer(db, funds=5_000)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    data = tx_data(buyer, tx_id, 1_000, otp=otp, expires_at=expires.isoformat())
    await send(http, settings, event("authentication.otp", data))
    [code] = await code_rows(db, buyer.client_id)
    return buyer, code, expires


async def test_the_code_is_read_while_it_serves_then_never(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer, code, expires = await _issued(client, settings, db, "tx_plain", "739201")
    now = datetime.now(UTC)
    assert await _plain(db, code.id, now) == "739201"
    assert await _plain(db, code.id, expires + timedelta(seconds=1)) is None  # past its time
    assert await _plain(db, uuid.uuid4(), now) is None  # gone
    # The purchase passes 3-D Secure: the code is spent, and never read again.
    body = authorization(buyer, 1_000, tx_id="tx_plain", three_ds=True)
    assert (await authorize(client, settings, body))["approved"]
    assert await _plain(db, code.id, now) is None


async def test_a_session_holding_the_row_reads_it_fresh(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer, code, _expires = await _issued(client, settings, db, "tx_fresh", "118822")
    async with db.sessions() as session:
        assert await codes.plain_code(session, code.id, datetime.now(UTC)) == "118822"
        await session.commit()  # the sender's session lives on, the row in its identity map
        body = authorization(buyer, 1_000, tx_id="tx_fresh", three_ds=True)
        assert (await authorize(client, settings, body))["approved"]
        assert await codes.plain_code(session, code.id, datetime.now(UTC)) is None
