"""A database for ledger tests (no app needed), and small builders of clients and accounts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool=None)
    yield db
    await db.dispose()


async def create_client(db: Database, external_user_id: str | None = None) -> uuid.UUID:
    async with db.transaction() as session:
        client = await clients.upsert_client(
            session, external_user_id or f"web_{uuid.uuid4().hex[:16]}"
        )
        return client.id


async def credit(
    session: AsyncSession,
    client_id: uuid.UUID,
    currency: str,
    amount: int,
    key: str | None = None,
    *,
    kind: str = "topup",
) -> wallets.Entry:
    """A top-up of `amount` minor units into the client's wallet, from USDT received."""
    key = key or f"test:{uuid.uuid4()}"
    account = await wallets.wallet(session, client_id, currency)
    source = await wallets.system_account(session, "usdt_received", currency, spread_key=key)
    return await wallets.post(
        session, kind, key, [Leg(account, currency, amount), Leg(source, currency, -amount)]
    )
