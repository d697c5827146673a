"""USD <-> EUR conversion at the operators' rate, less the plan's FX fee: amounts, rounding,
the ledger legs per currency, and every refusal."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.models import LedgerPosting
from paywarden.subscriptions import service as subs
from paywarden.wallets import conversion
from paywarden.wallets.conversion import Conversion
from tests.subscriptions.conftest import (
    balances,
    ledger_ok,
    load,
    make_plan,
    new_client,
    set_rate,
    system_balance,
)


async def _convert(
    db: Database, client_id: uuid.UUID, src: str, dst: str, amount: int, key: str | None = None
) -> Conversion:
    async with db.transaction() as session:
        client = await load(session, client_id)
        return await conversion.convert(session, client, src, dst, amount, idempotency_key=key)


async def test_eur_to_usd_less_the_plan_fee(db: Database) -> None:
    await make_plan(db, fx_fee_bps=50, is_default=True)  # 0.5 %
    await set_rate(db, 1_085_000)
    client_id = await new_client(db, eur=20_000)
    async with db.transaction() as session:
        await subs.ensure(session, await load(session, client_id))
    done = await _convert(db, client_id, "EUR", "USD", 10_000)
    # 100.00 EUR x 1.085 = 108.50 USD; fee ceil(0.5425) = 0.55; 107.95 to the wallet.
    assert (done.debited, done.credited, done.fee) == (10_000, 10_795, 55)
    assert done.rate == Decimal("1.085")
    assert (done.from_currency, done.to_currency, done.entry.kind) == ("EUR", "USD", "fx")
    assert await balances(db, client_id) == {"EUR": 10_000, "USD": 10_795}
    assert await system_balance(db, "fee_revenue", "USD") == 55
    assert await system_balance(db, "fx", "EUR") == 10_000
    assert await system_balance(db, "fx", "USD") == -10_850
    async with db.transaction() as session:
        sums = dict(
            (
                await session.execute(
                    select(LedgerPosting.currency, func.sum(LedgerPosting.amount))
                    .where(LedgerPosting.transaction_id == done.entry.id)
                    .group_by(LedgerPosting.currency)
                )
            ).all()
        )
        assert sums == {"EUR": 0, "USD": 0}
    await ledger_ok(db)


async def test_usd_to_eur_rounds_down_and_keeps_the_remainder(db: Database) -> None:
    await set_rate(db, 1_500_000)  # no plan: no fee
    client_id = await new_client(db, usd=1_000)
    done = await _convert(db, client_id, "USD", "EUR", 301)
    # 3.01 USD / 1.5 = 2.00666 EUR -> 2.00; 2.00 EUR cost 3.00 USD: 0.01 USD to rounding.
    assert (done.debited, done.credited, done.fee) == (301, 200, 0)
    assert await balances(db, client_id) == {"EUR": 200, "USD": 699}
    assert await system_balance(db, "rounding", "USD") == 1
    assert await system_balance(db, "fx", "USD") == 300
    await ledger_ok(db)


async def test_a_repeated_key_converts_once(db: Database) -> None:
    await set_rate(db, 1_000_000)
    client_id = await new_client(db, eur=1_000)
    first = await _convert(db, client_id, "EUR", "USD", 400, key="k1")
    again = await _convert(db, client_id, "EUR", "USD", 400, key="k1")
    assert (first.entry.replayed, again.entry.replayed) == (False, True)
    assert again.entry.id == first.entry.id
    assert await balances(db, client_id) == {"EUR": 600, "USD": 400}


async def test_refusals(db: Database) -> None:
    client_id = await new_client(db, eur=500, usd=500)

    async def refused(src: str, dst: str, amount: int) -> tuple[int, str]:
        with pytest.raises(AppError) as exc:
            await _convert(db, client_id, src, dst, amount)
        return exc.value.status, exc.value.code

    assert await refused("EUR", "USD", 100) == (409, "FX_RATE_NOT_SET")
    await set_rate(db, 1_085_000)
    assert await refused("EUR", "EUR", 100) == (400, "VALIDATION_ERROR")
    assert await refused("EUR", "USDT", 100) == (400, "VALIDATION_ERROR")
    assert await refused("EUR", "USD", 0) == (400, "VALIDATION_ERROR")
    assert await refused("EUR", "USD", -5) == (400, "VALIDATION_ERROR")
    assert await refused("USD", "EUR", 1) == (400, "VALIDATION_ERROR")  # 0.0092 EUR: no cent
    assert await refused("EUR", "USD", 501) == (402, "INSUFFICIENT_FUNDS")
    async with db.transaction() as session:
        (await load(session, client_id)).status = "banned"
    assert await refused("EUR", "USD", 100) == (403, "CLIENT_BANNED")
    assert await balances(db, client_id) == {"EUR": 500, "USD": 500}
    await ledger_ok(db)
