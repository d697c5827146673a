"""Builders for the money tests: plans, the EUR/USD rate, clients and funded wallets."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from paywarden.audit.context import Actor
from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.models import Client, LedgerTransaction, Plan
from paywarden.plans import service as plans
from paywarden.wallets import service as wallets
from tests.wallets.conftest import credit

OPERATOR = Actor(label="ops@example.com")


async def make_plan(db: Database, name: str | None = None, **values: Any) -> Plan:
    fields: dict[str, Any] = {
        "name": name or f"Plan {uuid.uuid4().hex[:8]}",
        "monthly_fee": 0,
        "cards_included": 1,
        "max_active_cards": 3,
        "card_issue_fee": 500,
        "topup_fee_bps": 0,
        "fx_fee_bps": 0,
        **values,
    }
    async with db.transaction() as session:
        plan = Plan(**fields)
        session.add(plan)
    return plan


async def set_rate(db: Database, micros: int) -> None:
    """The operators' EUR/USD rate, micro-USD per EUR (1_085_000 = 1.0850)."""
    async with db.transaction() as session:
        await plans.set_rate(session, micros, OPERATOR)


async def new_client(db: Database, *, eur: int = 0, usd: int = 0) -> uuid.UUID:
    async with db.transaction() as session:
        client = await clients.upsert_client(session, f"web_{uuid.uuid4().hex[:16]}")
        for currency, amount in (("EUR", eur), ("USD", usd)):
            if amount:
                await credit(session, client.id, currency, amount)
        return client.id


async def fund(db: Database, client_id: uuid.UUID, currency: str, amount: int) -> None:
    async with db.transaction() as session:
        await credit(session, client_id, currency, amount)


async def load(session: Any, client_id: uuid.UUID) -> Client:
    client = await session.get(Client, client_id)
    assert client is not None
    return client


async def balances(db: Database, client_id: uuid.UUID) -> dict[str, int]:
    async with db.transaction() as session:
        return {c: b.balance for c, b in (await wallets.balances(session, client_id)).items()}


async def system_balance(db: Database, code: str, currency: str) -> int:
    async with db.transaction() as session:
        return await wallets.system_balance(session, code, currency)


async def count_kind(db: Database, kind: str) -> int:
    async with db.transaction() as session:
        query = select(func.count()).where(LedgerTransaction.kind == kind)
        return int(await session.scalar(query) or 0)


async def ledger_ok(db: Database) -> None:
    async with db.transaction() as session:
        report = await wallets.check(session)
        assert report.ok, report.lines()
