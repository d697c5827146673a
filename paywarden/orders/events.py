"""What the orders publish on the bus (`kit/events`), for the packages that react to orders.

The orders import none of their subscribers (the merchant-webhook outbox, the Cards top-ups);
`paywarden/subscribers.py` wires them. An `OrderChanged` carries the order as its merchant sees
it at the change (`data`, the webhook body's `data`), taken when the change happens, so a
subscriber running at the end of a batch sends what the order was then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from paywarden.models import Order
from paywarden.models.webhooks import ORDER_CONFIRMED, ORDER_EXPIRED

# Published when an order reaches these statuses: the types merchants receive.
CONFIRMED = ORDER_CONFIRMED
EXPIRED = ORDER_EXPIRED
# An operator asked for the order's `order.confirmed` webhook again (not sent to merchants).
WEBHOOK_RETRY_REQUESTED = "order.webhook_retry_requested"


@dataclass(frozen=True)
class OrderChanged:
    type: str  # CONFIRMED | EXPIRED
    order: Order
    data: dict[str, Any]  # the order as `PaymentOut`, JSON-ready, at the change
    at: datetime


@dataclass(frozen=True)
class WebhookRetryRequested:
    order: Order
    # The `order.confirmed` to send should the order never have had one (status set by hand).
    confirmed: OrderChanged
    url_override: str | None  # for this delivery only, never stored
    type: str = WEBHOOK_RETRY_REQUESTED


class WebhookSettled(Protocol):
    """What the outbox publishes when a webhook is delivered or given up (its
    `webhooks/events.DeliveryOutcome`), as the orders read it: they never import the outbox."""

    @property
    def event_type(self) -> str: ...  # the webhook's type: the orders care for CONFIRMED
    @property
    def subject_id(self) -> UUID: ...  # the order's id
    @property
    def delivered(self) -> bool: ...
    @property
    def details(self) -> dict[str, Any]: ...  # webhook_id, delivery_id, attempt (, reason)
