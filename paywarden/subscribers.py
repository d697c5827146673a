"""Who reacts to what: every subscription of the process's event bus (`kit/events`), in one place.

`app.py` and `worker.py` call `compose()` when they build a process; it is idempotent. The
publishers import none of their subscribers; only this module knows both sides:

| event (publisher) | subscriber: its consequence, in the publisher's transaction |
|---|---|
| `order.confirmed`, `order.expired` (orders) | the webhook outbox: the merchant's webhook |
| `order.confirmed`, `order.expired` (orders) | the Cards top-ups: credit or close a top-up |
| `order.webhook_retry_requested` (orders) | the webhook outbox: a new delivery |
| `webhook.delivered`, `webhook.failed` (webhooks) | the orders: completed / callback_failed |
| `card.code_issued` (card_transactions) | the bot's notifications: the 3-D Secure code's message |
| `card_transaction.approved`, `.declined`, `.refunded` (card_transactions) | the bot's messages |
| `topup.credited` (topups) | the bot's notifications: the amount credited |
| `subscription.renewed`, `subscription.past_due` (subscriptions) | the bot's notifications |
| `wallet.low_balance` (wallets) | the bot's notifications: a wallet below the client's threshold |

It also registers the domains' gauges with `kit/health` (the kit knows no domain).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import events as card_events
from paywarden.chain.metrics import refresh_scanner_gauges
from paywarden.kit import health
from paywarden.kit.events import Bus, bus
from paywarden.notifications import reactions
from paywarden.orders import events as order_events
from paywarden.orders import service as orders
from paywarden.orders.events import OrderChanged, WebhookRetryRequested
from paywarden.subscriptions import events as subscription_events
from paywarden.sweeps.metrics import refresh_sweep_gauges
from paywarden.topups import events as topup_events
from paywarden.topups import service as topups
from paywarden.wallets import events as wallet_events
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
    # What the bot tells clients, written in the transaction of what it tells.
    target.subscribe(reactions.codes_issued, card_events.CODE_ISSUED)
    target.subscribe(
        reactions.purchases_changed,
        card_events.APPROVED,
        card_events.DECLINED,
        card_events.REFUNDED,
    )
    target.subscribe(reactions.topups_credited, topup_events.CREDITED)
    target.subscribe(
        reactions.subscriptions_changed, subscription_events.RENEWED, subscription_events.PAST_DUE
    )
    target.subscribe(reactions.low_balances, wallet_events.LOW_BALANCE)
    target.composed = True


def compose() -> None:
    """The process's bus and health gauges, ready: what `app.py` and `worker.py` call."""
    register(bus)
    health.register_gauges(refresh_scanner_gauges)
    health.register_gauges(refresh_sweep_gauges)
