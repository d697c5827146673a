"""An order as the operators see it: its events, transfers, settlement and merchant webhooks.

A read of other packages' records about the order (the webhook outbox's events and attempts,
the sweep), apart from the orders' rules (`service.py`), which never load the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.merchants import repository as merchants
from paywarden.models import ChainTransfer, Order, OrderEvent
from paywarden.orders import repository as repo
from paywarden.orders.service import get
from paywarden.sweeps import service as sweeps
from paywarden.webhooks import service as webhooks
from paywarden.webhooks.service import OrderWebhooks


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    merchant_name: str
    events: list[OrderEvent]
    webhooks: OrderWebhooks = field(default_factory=lambda: OrderWebhooks([]))
    transfers: list[ChainTransfer] = field(default_factory=list)
    settlement: dict[str, Any] | None = None


async def load(db: AsyncSession, order_id: uuid.UUID) -> OrderDetail:
    order = await get(db, order_id)
    merchant = await merchants.get(db, order.merchant_id)
    return OrderDetail(
        order,
        merchant.name if merchant else "",
        list(await repo.events(db, order.id)),
        await webhooks.for_order(db, order.id),
        list(await repo.transfers(db, order.id)),
        await sweeps.settlement(db, order.id),
    )
