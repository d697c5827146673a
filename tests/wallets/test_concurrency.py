"""Concurrent writers on PostgreSQL: no lost update, no overdraft, one transaction per key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from paywarden.kit.db import Database, PoolOptions
from paywarden.models import LedgerTransaction
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import InsufficientFunds
from paywarden.wallets.service import Leg
from tests.conftest import _is_postgres
from tests.wallets.conftest import create_client, credit

pytestmark = pytest.mark.skipif(not _is_postgres(), reason="SQLite has one writer at a time")
WRITERS = 20


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, PoolOptions(size=WRITERS, max_overflow=0))
    yield db
    await db.dispose()


async def test_twenty_writers_on_one_wallet_lose_no_update(pool: Database) -> None:
    client = await create_client(pool)
    per_writer = 10

    async def writer(n: int) -> None:
        for k in range(per_writer):
            async with pool.transaction() as session:
                await credit(session, client, "USD", 100 + n, f"w{n}:{k}")
                # And a fee on the shared, sharded fee account in the same wallet.
                account = await wallets.wallet(session, client, "USD")
                fees = await wallets.system_account(
                    session, "fee_revenue", "USD", spread_key=f"f{n}:{k}"
                )
                await wallets.post(
                    session,
                    "topup_fee",
                    f"f{n}:{k}",
                    [Leg(account, "USD", -1), Leg(fees, "USD", 1)],
                )

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    expected = sum((100 + n - 1) * per_writer for n in range(WRITERS))
    async with pool.transaction() as session:
        assert (await wallets.balances(session, client))["USD"].balance == expected
        assert await wallets.system_balance(session, "fee_revenue", "USD") == WRITERS * per_writer
        report = await wallets.check(session)
    assert report.ok, report.lines()


async def test_twenty_writers_cannot_overdraw(pool: Database) -> None:
    client = await create_client(pool)
    async with pool.transaction() as session:
        await credit(session, client, "EUR", 100)
        account = await wallets.wallet(session, client, "EUR")
        fees = await wallets.system_account(session, "fee_revenue", "EUR")

    async def spend(n: int) -> bool:
        try:
            async with pool.transaction() as session:
                await wallets.post(
                    session,
                    "card_issue_fee",
                    f"spend-{n}",
                    [Leg(account, "EUR", -10), Leg(fees, "EUR", 10)],
                )
        except InsufficientFunds:
            return False
        return True

    results = await asyncio.gather(*(spend(n) for n in range(WRITERS)))
    assert sum(results) == 10
    async with pool.transaction() as session:
        assert (await wallets.balances(session, client))["EUR"].balance == 0
        assert (await wallets.check(session)).ok


async def test_twenty_replays_of_one_key_credit_once(pool: Database) -> None:
    client = await create_client(pool)
    key = f"order:{uuid.uuid4()}:confirmed"

    async def confirm() -> bool:
        async with pool.transaction() as session:
            return not (await credit(session, client, "USD", 2500, key)).replayed

    results = await asyncio.gather(*(confirm() for _ in range(WRITERS)))
    assert sum(results) == 1
    async with pool.transaction() as session:
        assert (await wallets.balances(session, client))["USD"].balance == 2500
        count = await session.scalar(select(func.count()).select_from(LedgerTransaction))
    assert count == 1
