"""Shared steps of the top-up tests: make a top-up for a client, confirm or expire its order."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from paywarden.kit.db import Database
from paywarden.models import Order, Topup
from paywarden.orders import service as orders
from paywarden.topups import service as topups
from paywarden.topups.service import TopupCreated
from tests.subscriptions.conftest import load

BASE_URL = "https://pay.example.com"


async def create_topup(app: FastAPI, client_id: uuid.UUID, micro: int) -> TopupCreated:
    async with app.state.db.transaction() as session:
        return await topups.create(
            session, app.state.gateway, await load(session, client_id), micro, base_url=BASE_URL
        )


async def confirm(db: Database, order_id: uuid.UUID, received: int) -> None:
    """The order reaches `confirmed` with `received` micro-USDT, as the scanner would do it."""
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order.amount_received = received
        await orders.transition(session, order, "confirmed", "confirmed", base_url=BASE_URL)


async def topup_row(db: Database, topup_id: uuid.UUID) -> Topup:
    async with db.transaction() as session:
        row = await session.get(Topup, topup_id)
        assert row is not None
        return row
