"""The address pool: ready addresses, one open order per address, reuse only after cooldown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from paywarden.addresses import service as addresses
from paywarden.addresses.service import Pool
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import DepositAddress, Order, OrderEvent
from paywarden.orders import service as orders
from tests.conftest import TEST_XPUB, client_for, start_app
from tests.factories import create_merchant, create_payment

BASE = "http://127.0.0.1:8000"


async def test_start_fills_the_pool_and_top_up_keeps_it_full(app: FastAPI, db: Database) -> None:
    pool: Pool = app.state.gateway.pool
    async with db.transaction() as session:
        stats = await addresses.stats(session, pool)
    assert (stats.total, stats.free, stats.allocated) == (5, 5, 0)  # min_free is 5 in tests
    async with client_for(app) as client:
        shop = await create_merchant(db)
        for i in range(3):
            await create_payment(client, shop, external_id=f"o{i}")
    async with db.transaction() as session:
        assert await addresses.top_up(session, pool) == 3
        stats = await addresses.stats(session, pool)
        indexes = sorted((await session.scalars(select(DepositAddress.derivation_index))).all())
    assert (stats.total, stats.free, stats.allocated) == (8, 5, 3)
    assert indexes == list(range(8))


async def test_an_empty_pool_derives_on_demand(app: FastAPI, db: Database) -> None:
    async with client_for(app) as client:
        shop = await create_merchant(db)
        made = [await create_payment(client, shop, external_id=f"o{i}") for i in range(8)]
    assert len({o["address"] for o in made}) == 8


async def test_200_simultaneous_creates_never_share_an_address(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(
        make_settings(address_pool_min_free=50, merchant_rate_limit="1000/second")
    )
    try:
        shop = await create_merchant(app.state.db)
        async with client_for(app) as client:

            async def one(i: int) -> httpx.Response:
                return await client.post(
                    "/api/v1/payments",
                    json={"external_id": f"c{i}", "amount": "1"},
                    headers=shop.headers,
                )

            responses = await asyncio.gather(*(one(i) for i in range(200)))
        assert [r.status_code for r in responses] == [201] * 200
        assert len({r.json()["address"] for r in responses}) == 200
        async with app.state.db.transaction() as session:
            allocated = await session.scalar(
                select(func.count())
                .select_from(DepositAddress)
                .where(DepositAddress.status == "allocated")
            )
            linked = await session.scalar(
                select(func.count())
                .select_from(Order)
                .join(DepositAddress, DepositAddress.order_id == Order.id)
            )
        assert allocated == linked == 200
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_simultaneous_retries_of_one_request_make_one_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await create_merchant(db)
    body = {"external_id": "same", "amount": "5"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/payments", json=body, headers=shop.headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    async with db.transaction() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(DepositAddress)
                .where(DepositAddress.status == "allocated")
            )
            == 1
        )


async def test_expiry_frees_the_address_only_after_the_cooldown(app: FastAPI, db: Database) -> None:
    pool: Pool = app.state.gateway.pool
    async with client_for(app) as client:
        shop = await create_merchant(db)
        order = await create_payment(client, shop, expires_in=300)
        async with db.transaction() as session:
            await session.execute(update(Order).values(expires_at=utcnow() - timedelta(seconds=1)))
        async with db.transaction() as session:
            assert await orders.expire_due(session, pool, base_url=BASE) == 1
        async with db.transaction() as session:
            assert await orders.expire_due(session, pool, base_url=BASE) == 0
            address = await session.scalar(
                select(DepositAddress).where(DepositAddress.address == order["address"])
            )
            events = (
                await session.scalars(select(OrderEvent).order_by(OrderEvent.created_at))
            ).all()
        assert address is not None
        assert address.status == "free"
        assert address.order_id is None
        assert address.available_at > utcnow() + timedelta(hours=23)
        assert [(e.event_type, e.from_status, e.to_status) for e in events] == [
            ("created", None, "pending"),
            ("expired", "pending", "expired"),
        ]
        shown = await client.get(f"/api/v1/payments/{order['id']}", headers=shop.headers)
        assert shown.json()["status"] == "expired"
        # Orders created now get other addresses while it cools down.
        fresh = [await create_payment(client, shop, external_id=f"n{i}") for i in range(6)]
        assert order["address"] not in {o["address"] for o in fresh}
        # After the cooldown it may serve again.
        async with db.transaction() as session:
            await session.execute(
                update(DepositAddress)
                .where(DepositAddress.id == address.id)
                .values(available_at=utcnow() - timedelta(seconds=1))
            )
        reused = await create_payment(client, shop, external_id="later")
        assert reused["address"] == order["address"]


async def test_confirming_orders_wait_and_partly_paid_ones_keep_their_address(
    app: FastAPI, db: Database
) -> None:
    """A confirming order (a transfer on its way) does not expire; a partly paid one expires
    `underpaid` and keeps its address (it holds funds to sweep)."""
    async with client_for(app) as client:
        shop = await create_merchant(db)
        await create_payment(client, shop, external_id="partial")
        await create_payment(client, shop, external_id="confirming")
    async with db.transaction() as session:
        await session.execute(update(Order).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.execute(
            update(Order).where(Order.external_id == "partial").values(amount_received=1)
        )
        await session.execute(
            update(Order).where(Order.external_id == "confirming").values(status="confirming")
        )
    async with db.transaction() as session:
        assert await orders.expire_due(session, app.state.gateway.pool, base_url=BASE) == 1
    async with db.transaction() as session:
        rows = {o.external_id: o for o in (await session.scalars(select(Order))).all()}
        assert rows["confirming"].status == "confirming"
        partial = rows["partial"]
        assert (partial.status, partial.amount_received) == ("expired", 1)
        address = await session.get(DepositAddress, partial.address_id)
        assert address is not None
        assert (address.status, address.order_id) == ("allocated", partial.id)
        events = await session.scalars(
            select(OrderEvent.event_type).where(OrderEvent.order_id == partial.id)
        )
        assert set(events.all()) == {"created", "expired", "underpaid"}


async def test_addresses_of_another_xpub_are_never_handed_out(
    make_settings: Callable[..., Settings],
) -> None:
    from paywarden.tron.keys import account_xpub

    other_xpub = account_xpub(
        " ".join(
            [
                "legal",
                "winner",
                "thank",
                "year",
                "wave",
                "sausage",
                "worth",
                "useful",
                "legal",
                "winner",
                "thank",
                "yellow",
            ]
        )
    )
    first, life = await start_app(make_settings())
    await life.__aexit__(None, None, None)
    second, life = await start_app(make_settings(xpub=other_xpub))
    try:
        async with client_for(second) as client:
            shop = await create_merchant(second.state.db)
            order = await create_payment(client, shop)
        from paywarden.tron.keys import derive_address

        assert order["address"] == derive_address(other_xpub, 0)
        assert order["address"] != derive_address(TEST_XPUB, 0)
    finally:
        await life.__aexit__(None, None, None)
    del first


async def test_allocation_takes_the_longest_available_first(db: Database, app: FastAPI) -> None:
    from paywarden.tron.keys import derive_address

    pool: Pool = app.state.gateway.pool
    async with db.transaction() as session:
        # Index 3 has been free the longest: it goes first, then the rest by index.
        await session.execute(
            update(DepositAddress)
            .where(DepositAddress.derivation_index == 3)
            .values(available_at=utcnow() - timedelta(days=2))
        )
    async with db.transaction() as session:
        first = await addresses.allocate(session, pool, uuid.uuid4())
        second = await addresses.allocate(session, pool, uuid.uuid4())
    assert first.address == derive_address(TEST_XPUB, 3)
    assert second.address == derive_address(TEST_XPUB, 0)
