"""The hosted checkout: what a payer may see of an order, and in which state it is.

Only the merchant's name leaves this module; nothing else of the merchant is read into the view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.money import format_usdt
from paywarden.kit.time import as_utc, utcnow
from paywarden.merchants import repository as merchants
from paywarden.models import Order
from paywarden.models.orders import CONFIRMING, EXPIRED, PAID, PENDING
from paywarden.orders import service as orders
from paywarden.orders.errors import OrderNotFound

# What the payer is shown, by the order's state on the page.
WAITING = "waiting"  # pending: send the funds
SEEN = "confirming"  # the transfer is on chain, waiting for finality
DONE = "paid"
LAPSED = "expired"


@dataclass(frozen=True)
class Checkout:
    order_id: uuid.UUID
    merchant_name: str
    address: str
    amount_expected: str  # the exact USDT amount to send, 6 decimals
    amount_received: str
    received_units: int
    status: str
    expires_at: datetime
    paid: bool
    expired: bool

    @property
    def state(self) -> str:
        if self.paid:
            return DONE
        if self.expired:
            return LAPSED
        return SEEN if self.status == CONFIRMING else WAITING

    @property
    def is_open(self) -> bool:
        return self.state in (WAITING, SEEN)


def parse_order_id(text: str) -> uuid.UUID:
    """A malformed id names no order: the payer sees the same answer as for an unknown one."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise OrderNotFound() from None


async def status(db: AsyncSession, order_id: str) -> Checkout:
    order = await orders.get(db, parse_order_id(order_id))
    return _view(order, merchant_name="")


async def page(db: AsyncSession, order_id: str) -> Checkout:
    order = await orders.get(db, parse_order_id(order_id))
    merchant = await merchants.get(db, order.merchant_id)
    return _view(order, merchant_name=merchant.name if merchant else "")


def _view(order: Order, *, merchant_name: str, now: datetime | None = None) -> Checkout:
    expires_at = as_utc(order.expires_at)
    assert expires_at is not None
    now = now or utcnow()
    paid = order.status in PAID
    # A pending order past its time is over for the payer even before the expiry job has run:
    # the page must not invite a transfer to an address that is about to be released.
    expired = order.status == EXPIRED or (order.status == PENDING and expires_at <= now)
    return Checkout(
        order_id=order.id,
        merchant_name=merchant_name,
        address=order.address,
        amount_expected=format_usdt(order.amount_expected),
        amount_received=format_usdt(order.amount_received),
        received_units=order.amount_received,
        status=order.status,
        expires_at=expires_at,
        paid=paid,
        expired=expired,
    )
