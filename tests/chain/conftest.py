"""The gateway with its chain scanner pointed at a devnet served over real HTTP.

The devnet fixtures come from tests/tron/conftest.py; the app's settings name the devnet as
TRONGRID_URL, so the app's own scanner settings (gateway.scanner) are the ones under test.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.chain import tasks
from paywarden.chain.service import PassResult
from paywarden.config import Settings
from paywarden.context import GatewayContext
from paywarden.kit.db import Database
from paywarden.models import ChainTransfer, Incident, Order, OrderEvent, WebhookEvent
from paywarden.tron.client import TronGridClient
from tests.factories import TestMerchant, create_merchant, create_payment
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures

BASE_URL = "https://pay.example.com"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the TronGrid requests a client makes (by path), passing them on over HTTP."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], devnet: Devnet) -> Settings:  # noqa: F811
    return make_settings(trongrid_url=devnet.url, scan_start_block=0)


@dataclass
class Chain:
    """The gateway and the devnet together: pay, mine, scan, look."""

    app: FastAPI
    db: Database
    devnet: Devnet
    api: httpx.AsyncClient  # an admin-signed client of the app (the merchant API needs a key)
    shop: TestMerchant
    client: TronGridClient

    @property
    def gateway(self) -> GatewayContext:
        return self.app.state.gateway

    async def order(self, amount: str = "12.5", external_id: str | None = None) -> dict[str, Any]:
        return await create_payment(
            self.api, self.shop, external_id=external_id or uuid.uuid4().hex, amount=amount
        )

    async def pay(self, to: str, micro: int) -> str:
        response = await self.devnet.control.post("/pay", json={"to": to, "amount": micro})
        assert response.status_code == 200, response.text
        return response.json()["tx_hash"]

    async def reorg(self, depth: int, *, reinclude: bool = False) -> None:
        response = await self.devnet.control.post(
            "/reorg", json={"depth": depth, "reinclude": reinclude}
        )
        assert response.status_code == 200, response.text

    async def scan(self, client: TronGridClient | None = None, **config: Any) -> PassResult | None:
        """One scanner pass, exactly as the worker loop runs it."""
        gateway = self.gateway
        assert gateway.scanner is not None
        cfg = dataclasses.replace(gateway.scanner, **config)
        return await tasks.scan_pass(self.db, client or self.client, cfg, gateway)

    async def order_row(self, order_id: object) -> Order:
        async with self.db.transaction() as session:
            order = await session.get(Order, uuid.UUID(str(order_id)))
            assert order is not None
            return order

    async def events(self, order_id: object) -> list[OrderEvent]:
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(OrderEvent)
                .where(OrderEvent.order_id == uuid.UUID(str(order_id)))
                .order_by(OrderEvent.created_at, OrderEvent.id)
            )
            return list(rows.all())

    async def event_types(self, order_id: object) -> list[str]:
        return [e.event_type for e in await self.events(order_id)]

    async def transfers(self) -> list[ChainTransfer]:
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(ChainTransfer).order_by(ChainTransfer.block_number, ChainTransfer.tx_hash)
            )
            return list(rows.all())

    async def incidents(self) -> list[Incident]:
        async with self.db.transaction() as session:
            rows = await session.scalars(select(Incident).order_by(Incident.created_at))
            return list(rows.all())

    async def webhook_types(self, order_id: object) -> list[str]:
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(WebhookEvent.type)
                .where(WebhookEvent.order_id == uuid.UUID(str(order_id)))
                .order_by(WebhookEvent.created_at)
            )
            return list(rows.all())


@pytest.fixture
async def chain(
    app: FastAPI,
    db: Database,
    admin_client: httpx.AsyncClient,
    devnet: Devnet,  # noqa: F811
) -> Chain:
    shop = await create_merchant(db)
    return Chain(app, db, devnet, admin_client, shop, devnet.client)
