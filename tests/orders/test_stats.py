"""Dashboard stats and the 7-day revenue, read from the rollup kept with every order change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta

import httpx
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import Order
from paywarden.orders import repository, service
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in

BASE = "http://127.0.0.1:8000"
EMPTY = {
    "order_count": 0,
    "completed_count": 0,
    "total_received": "0.000000",
    "success_rate": "0.00",
}


async def test_empty_dashboard(admin_client: httpx.AsyncClient) -> None:
    stats = (await admin_client.get("/api/v1/admin/stats")).json()
    assert stats["today"] == EMPTY
    assert stats["week"] == EMPTY
    assert stats["total"] == {**EMPTY, "merchant_count": 0}
    assert stats["address_pool"] == {"total": 5, "free": 5, "allocated": 0, "cooling": 0}
    daily = (await admin_client.get("/api/v1/admin/stats/daily")).json()
    assert len(daily) == 7
    assert all(d["total_received"] == "0.000000" for d in daily)
    days = [date.fromisoformat(d["date"]) for d in daily]
    assert days == [days[0] + timedelta(days=i) for i in range(7)]
    assert days[-1] == date.today() or abs((days[-1] - date.today()).days) <= 1


async def _pay(db: Database, order_id: str, amount: int, status: str = "completed") -> None:
    async with db.transaction() as session:
        order = await session.get(Order, uuid.UUID(order_id))
        assert order is not None
        order.amount_received = amount
        await service.transition(session, order, status, "test_paid", base_url=BASE)


async def test_counts_rates_and_sums(admin_client: httpx.AsyncClient, db: Database) -> None:
    shop = await create_merchant(db)
    made = [await create_payment(admin_client, shop, external_id=f"o{i}") for i in range(3)]
    await _pay(db, made[0]["id"], 12_500_000)
    await _pay(db, made[1]["id"], 3_000_001, status="callback_failed")
    # An order from 10 days ago counts in the total only.
    async with db.transaction() as session:
        old = await session.get(Order, uuid.UUID(made[2]["id"]))
        assert old is not None
        old.created_day = old.created_day - timedelta(days=10)
        await repository.rebuild_daily(session)
    stats = (await admin_client.get("/api/v1/admin/stats")).json()
    assert stats["today"] == {
        "order_count": 2,
        "completed_count": 2,
        "total_received": "15.500001",
        "success_rate": "100.00",
    }
    assert stats["week"] == stats["today"]
    assert stats["total"] == {
        "order_count": 3,
        "completed_count": 2,
        "total_received": "15.500001",
        "success_rate": "66.67",
        "merchant_count": 1,
    }
    assert stats["address_pool"]["allocated"] == 3
    daily = (await admin_client.get("/api/v1/admin/stats/daily")).json()
    assert daily[-1]["total_received"] == "15.500001"
    assert [d["total_received"] for d in daily[:-1]] == ["0.000000"] * 6


async def test_rollup_always_equals_a_rebuild(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    made = [await create_payment(admin_client, shop, external_id=f"o{i}") for i in range(4)]
    await _pay(db, made[0]["id"], 1_000_000)
    await _pay(db, made[1]["id"], 2_000_000, status="confirmed")
    async with db.transaction() as session:
        order = await session.get(Order, uuid.UUID(made[1]["id"]))
        assert order is not None
        await service.transition(
            session, order, "completed", "test", base_url=BASE
        )  # paid → paid: no change

    async def summed() -> tuple[int, int, int]:
        async with db.transaction() as session:
            t = await repository.totals(session)
            return t.order_count, t.paid_count, t.total_received

    live = await summed()
    async with db.transaction() as session:
        await repository.rebuild_daily(session)
    assert await summed() == live == (4, 2, 3_000_000)


async def test_days_follow_the_report_time_zone(make_settings: Callable[..., Settings]) -> None:
    app, lifespan = await start_app(make_settings(report_timezone="Pacific/Kiritimati"))
    try:
        op = await create_operator(app.state.db)
        shop = await create_merchant(app.state.db)
        async with client_for(app) as client:
            await sign_in(client, op)
            await create_payment(client, shop)
            daily = (await client.get("/api/v1/admin/stats/daily")).json()
        async with app.state.db.transaction() as session:
            order = await session.scalar(select(Order))
        assert order is not None
        from zoneinfo import ZoneInfo

        local_day = order.created_at.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
        assert order.created_day == local_day
        assert daily[-1]["date"] == local_day.isoformat()
    finally:
        await lifespan.__aexit__(None, None, None)
