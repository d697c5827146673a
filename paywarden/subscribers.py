"""Who reacts to what: every subscription of the process's event bus (`kit/events`), in one place.

`app.py` and `worker.py` call `compose()` when they build a process; it is idempotent. The
publishers import none of their subscribers; only this module knows both sides:

| event (publisher) | subscriber: its consequence, in the publisher's transaction |
|---|---|
| `order.confirmed`, `order.expired` (orders) | the webhook outbox: the merchant's webhook |
| `order.confirmed`, `order.expired` (orders) | the Cards top-ups: credit or close a top-up |
| `order.webhook_retry_requested` (orders) | the webhook outbox: a new delivery |
| `webhook.delivered`, `webhook.failed` (webhooks) | the orders: completed / callback_failed |

It also registers the domains' gauges with `kit/health` (the kit knows no domain).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.chain.metrics import refresh_scanner_gauges
from paywarden.kit import health
from paywarden.kit.events import Bus, bus
from paywarden.orders import events as order_events
from paywarden.orders import service as orders
from paywarden.orders.events import OrderChanged, WebhookRetryRequested
from paywarden.sweeps.metrics import refresh_sweep_gauges
from paywarden.topups import service as topups
from paywarden.webhooks import events as webhook_events
from paywarden.webhooks import service as webhooks
from paywarden.webhooks.service import Message


def message(change: OrderChanged) -> Message:
    """The merchant's webhook of an order's change: the outbox stores the body the orders
    rendered, and knows the order only as the event's subject."""
    order = change.order
    return Message(
        type=change.type,
        subject_id=order.id,
        merchant_id=order.merchant_id,
        data=change.data,
        at=change.at,
        callback_url=order.callback_url,
    )


async def tell_merchants(db: AsyncSession, changes: Sequence[OrderChanged]) -> None:
    await webhooks.enqueue_many(db, [message(change) for change in changes])


async def redeliver(db: AsyncSession, requests: Sequence[WebhookRetryRequested]) -> None:
    for request in requests:
        await webhooks.redeliver(db, message(request.confirmed), url_override=request.url_override)


def register(target: Bus) -> None:
    """Subscribe every handler to `target` (a second call changes nothing)."""
    changes = (order_events.CONFIRMED, order_events.EXPIRED)
    target.subscribe(tell_merchants, *changes)
    target.subscribe(topups.on_orders_changed, *changes)
    target.subscribe(redeliver, order_events.WEBHOOK_RETRY_REQUESTED)
    target.subscribe(orders.on_webhooks_settled, webhook_events.DELIVERED, webhook_events.FAILED)
    target.composed = True


def compose() -> None:
    """The process's bus and health gauges, ready: what `app.py` and `worker.py` call."""
    register(bus)
    health.register_gauges(refresh_scanner_gauges)
    health.register_gauges(refresh_sweep_gauges)
