"""The conversion's preview: the very figures `convert` then posts, nothing written, and the
same refusals (a banned client may look)."""

from __future__ import annotations

import uuid

import pytest

from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.wallets import conversion
from paywarden.wallets.conversion import Quote
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    load,
    make_plan,
    new_client,
    set_rate,
)


async def _preview(db: Database, client_id: uuid.UUID, src: str, amount: int) -> Quote:
    async with db.transaction() as session:
        client = await load(session, client_id)
        dst = "USD" if src == "EUR" else "EUR"
        return await conversion.preview(session, client, src, dst, amount)


@pytest.mark.parametrize(
    ("rate", "fee_bps", "src", "amount"),
    [
        (1_085_000, 50, "EUR", 10_000),
        (1_085_000, 50, "USD", 1_085),
        (1_500_000, 0, "USD", 301),
        (1_234_567, 275, "EUR", 99_999),
        (900_001, 1, "USD", 7),
    ],
)
async def test_the_preview_is_what_convert_posts(
    db: Database, rate: int, fee_bps: int, src: str, amount: int
) -> None:
    await make_plan(db, fx_fee_bps=fee_bps, is_default=True)
    await set_rate(db, rate)
    client_id = await new_client(db, eur=200_000, usd=200_000)
    q = await _preview(db, client_id, src, amount)
    assert await count_kind(db, "fx") == 0
    assert await balances(db, client_id) == {"EUR": 200_000, "USD": 200_000}
    async with db.transaction() as session:
        client = await load(session, client_id)
        done = await conversion.convert(session, client, src, q.to_currency, amount)
    assert (done.debited, done.credited, done.fee, done.rate) == (q.amount, q.net, q.fee, q.rate)
    assert q.gross == q.net + q.fee
    assert q.fee_bps == fee_bps


async def test_the_preview_refuses_as_convert_does(db: Database) -> None:
    client_id = await new_client(db, eur=1_000)
    with pytest.raises(AppError) as no_rate:
        await _preview(db, client_id, "EUR", 500)
    assert no_rate.value.code == "FX_RATE_NOT_SET"
    await make_plan(db, fx_fee_bps=100, is_default=True)
    await set_rate(db, 1_000_000)
    with pytest.raises(AppError) as short:
        await _preview(db, client_id, "EUR", 1_001)
    assert (short.value.status, short.value.code) == (402, "INSUFFICIENT_FUNDS")
    with pytest.raises(AppError) as small:
        await _preview(db, client_id, "EUR", 1)  # 0.01 less a 0.01 fee: nothing to credit
    assert small.value.code == "VALIDATION_ERROR"
    async with db.transaction() as session:
        client = await load(session, client_id)
        with pytest.raises(AppError) as same:
            await conversion.preview(session, client, "EUR", "EUR", 100)
        assert same.value.code == "VALIDATION_ERROR"
        client.status = "banned"  # looking changes nothing: a banned client may
    q = await _preview(db, client_id, "EUR", 1_000)
    assert (q.gross, q.fee, q.net) == (1_000, 10, 990)
