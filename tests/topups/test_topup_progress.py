"""A top-up made with the caller's own id (a form's key: a retry answers the first top-up), and
where a client's top-up stands (its order as the checkout sees it, then the credit)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.kit.time import utcnow
from paywarden.models import Order, Topup
from paywarden.orders import service as orders
from paywarden.topups import service as topups
from paywarden.topups.service import TopupCreated, TopupProgress
from tests.subscriptions.conftest import load, make_plan, new_client
from tests.topups.helpers import BASE_URL, confirm

USDT = 1_000_000


async def _create(
    app: FastAPI, client_id: uuid.UUID, micro: int, topup_id: uuid.UUID
) -> TopupCreated:
    async with app.state.db.transaction() as session:
        return await topups.create(
            session,
            app.state.gateway,
            await load(session, client_id),
            micro,
            base_url=BASE_URL,
            topup_id=topup_id,
        )


async def _counts(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        made = await session.scalar(select(func.count()).select_from(Topup))
        ordered = await session.scalar(select(func.count()).select_from(Order))
        return int(made or 0), int(ordered or 0)


async def _progress(db: Database, client_id: uuid.UUID, topup_id: uuid.UUID) -> TopupProgress:
    async with db.transaction() as session:
        return await topups.progress(session, client_id, topup_id)


async def test_the_callers_id_makes_a_retry_answer_the_first(app: FastAPI, db: Database) -> None:
    client_id = await new_client(db)
    key = uuid.uuid4()
    first = await _create(app, client_id, 25 * USDT, key)
    counts = await _counts(db)
    again = await _create(app, client_id, 25 * USDT, key)
    assert first.topup.id == again.topup.id == key
    assert (again.order_id, again.address, again.amount) == (
        first.order_id,
        first.address,
        first.amount,
    )
    assert await _counts(db) == counts
    # The same id with another amount, or from another client: refused, nothing made.
    with pytest.raises(AppError) as other_amount:
        await _create(app, client_id, 26 * USDT, key)
    assert (other_amount.value.status, other_amount.value.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    with pytest.raises(AppError) as other_client:
        await _create(app, await new_client(db), 25 * USDT, key)
    assert other_client.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert await _counts(db) == counts


async def test_progress_from_waiting_to_credited(app: FastAPI, db: Database) -> None:
    await make_plan(db, topup_fee_bps=100, is_default=True)
    client_id = await new_client(db)
    made = await _create(app, client_id, 10 * USDT, uuid.uuid4())
    waiting = await _progress(db, client_id, made.topup.id)
    assert (waiting.state, waiting.final, waiting.address, waiting.amount, waiting.received) == (
        "waiting",
        False,
        made.address,
        10 * USDT,
        0,
    )
    assert waiting.expires_at == made.expires_at.replace(tzinfo=waiting.expires_at.tzinfo)
    async with db.transaction() as session:
        order = await session.get(Order, made.order_id)
        assert order is not None
        order.amount_received = 10 * USDT
        await orders.transition(session, order, "confirming", "confirming", base_url=BASE_URL)
    seen = await _progress(db, client_id, made.topup.id)
    assert (seen.state, seen.received) == ("confirming", 10 * USDT)
    await confirm(db, made.order_id, 10 * USDT)
    done = await _progress(db, client_id, made.topup.id)
    assert (done.state, done.final) == ("credited", True)
    assert (done.topup.credited_cents, done.topup.fee_cents) == (990, 10)


async def test_an_overdue_order_is_expired_before_the_expiry_job(
    app: FastAPI, db: Database
) -> None:
    client_id = await new_client(db)
    made = await _create(app, client_id, 3 * USDT, uuid.uuid4())
    async with db.transaction() as session:
        order = await session.get(Order, made.order_id)
        assert order is not None
        order.expires_at = utcnow() - timedelta(seconds=1)
    lapsed = await _progress(db, client_id, made.topup.id)
    assert (lapsed.state, lapsed.final, lapsed.topup.status) == ("expired", True, "pending")


async def test_another_clients_topup_is_not_found(app: FastAPI, db: Database) -> None:
    owner = await new_client(db)
    made = await _create(app, owner, 3 * USDT, uuid.uuid4())
    for client_id, topup_id in ((await new_client(db), made.topup.id), (owner, uuid.uuid4())):
        with pytest.raises(AppError) as missing:
            await _progress(db, client_id, topup_id)
        assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
