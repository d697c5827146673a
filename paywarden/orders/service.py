"""Order rules: create (idempotent on external_id), change status, expire.

Every status change goes through `transition`, which writes the `order_events` row and keeps the
daily rollup in step, in the caller's transaction. Reaching `confirmed` or `expired` publishes
an `OrderChanged` (`order.confirmed`, `order.expired`) on the bus (`kit/events`): the merchant
webhook outbox and the Cards top-ups react in the same transaction, and this package imports
neither (`paywarden/subscribers.py` wires them). The outbox tells back how the `order.confirmed`
webhook went (`webhook.delivered`, `webhook.failed`): `on_webhooks_settled` completes the order
or marks its callback failed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.addresses import service as addresses
from paywarden.addresses.service import Pool
from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.kit.events import publish
from paywarden.kit.money import format_usdt
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.time import utcnow
from paywarden.merchants import repository as merchants
from paywarden.merchants.errors import MerchantSuspended
from paywarden.models import ChainTransfer, Incident, Merchant, Order, OrderEvent
from paywarden.models.incidents import WEBHOOK_FAILED
from paywarden.models.orders import (
    CALLBACK_FAILED,
    COMPLETED,
    CONFIRMED,
    CONFIRMING,
    EXPIRED,
    OPEN,
    PAID,
    PENDING,
)
from paywarden.orders import events
from paywarden.orders import repository as repo
from paywarden.orders.batch import TransitionBatch, rollup_shard
from paywarden.orders.errors import (
    DuplicateExternalId,
    InvalidState,
    OrderNotFound,
    SweepDisabled,
)
from paywarden.orders.events import OrderChanged, WebhookRetryRequested, WebhookSettled
from paywarden.orders.merchant_view import PaymentOut
from paywarden.orders.repository import OrderFilter
from paywarden.sweeps import service as sweeps

if TYPE_CHECKING:  # the process's settings: only read here
    from paywarden.context import GatewayContext

WEBHOOK_RETRYABLE = (CALLBACK_FAILED,)
# Statuses whose arrival is published (and told to the merchant), with the event type of each.
PUBLISHED_ON = {CONFIRMED: events.CONFIRMED, EXPIRED: events.EXPIRED}
# A payment to an order that is no longer open (expired or paid) while it holds its address.
LATE_PAYMENT = "late_payment"


@dataclass(frozen=True)
class NewOrder:
    external_id: str
    amount: int  # micro-USDT
    callback_url: str | None
    expires_in: int
    metadata: dict[str, Any] | None

    def request_hash(self) -> str:
        canonical = json.dumps(
            {
                "external_id": self.external_id,
                "amount": self.amount,
                "callback_url": self.callback_url,
                "expires_in": self.expires_in,
                "metadata": self.metadata,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


async def create(
    db: AsyncSession, ctx: GatewayContext, merchant: Merchant, new: NewOrder
) -> tuple[Order, bool]:
    """The order and whether it was made now (False: a safe retry of the same request)."""
    if not merchant.is_active:
        raise MerchantSuspended()
    request_hash = new.request_hash()
    order = await _insert(db, ctx, merchant, new, request_hash)
    if order is not None:
        return order, True
    # The external_id is taken: a retry, or a concurrent twin that won the unique key.
    existing = await repo.by_external_id(db, merchant.id, new.external_id)
    if existing is None:  # pragma: no cover - the row that refused ours cannot vanish mid-txn
        raise OrderNotFound()
    return _same_request(existing, request_hash), False


def _same_request(order: Order, request_hash: str) -> Order:
    if order.request_hash != request_hash:
        raise DuplicateExternalId()
    return order


async def _insert(
    db: AsyncSession, ctx: GatewayContext, merchant: Merchant, new: NewOrder, request_hash: str
) -> Order | None:
    """Claim an address and insert the order with its first event and rollup count.

    Plain INSERT statements, not ORM flushes: this is the gateway's hottest path. None when the
    merchant's external_id already exists; the address claim is then given back.
    """
    now = utcnow()
    order_id = uuid.uuid4()
    claim = await addresses.allocate(db, ctx.pool, order_id)
    values: dict[str, Any] = {
        "id": order_id,
        "merchant_id": merchant.id,
        "external_id": new.external_id,
        "request_hash": request_hash,
        "address_id": claim.id,
        "address": claim.address,
        "amount_expected": new.amount,
        "amount_received": 0,
        "status": PENDING,
        "callback_url": new.callback_url,
        "metadata": new.metadata,
        "tx_hash": None,
        "created_at": now,
        "created_day": report_day(now, ctx.tz),
        "expires_at": now + timedelta(seconds=new.expires_in),
        "updated_at": now,
    }
    if not await repo.insert_unless_taken(db, values):
        await addresses.give_back(db, claim, order_id)
        return None
    await repo.insert_event(
        db,
        {
            "id": uuid.uuid4(),
            "order_id": order_id,
            "event_type": "created",
            "from_status": None,
            "to_status": PENDING,
            "created_at": now,
            "payload": {"amount_expected": new.amount, "address": claim.address},
        },
    )
    await repo.bump_daily(db, values["created_day"], rollup_shard(), orders=1)
    # The row as inserted, for the answer; not attached to the session.
    return Order(**{("meta" if k == "metadata" else k): v for k, v in values.items()})


def report_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


async def transition(
    db: AsyncSession,
    order: Order,
    to_status: str,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    base_url: str | None,
    batch: TransitionBatch | None = None,
) -> None:
    """Change status, record the event and keep the rollup right, all in this transaction.

    Reaching `confirmed` or `expired` also publishes an `OrderChanged` (see the module);
    `base_url` (PUBLIC_BASE_URL) builds its checkout_url (None: for a change that publishes
    nothing). With a `batch`, the rollup, published events and sweep writes wait for
    `batch.flush` (same transaction), so that a run of transitions shares its statements.
    """
    from_status = order.status
    was_paid, now_paid = from_status in PAID, to_status in PAID
    order.status = to_status
    order.updated_at = utcnow()
    db.add(
        OrderEvent(
            order_id=order.id,
            event_type=event_type,
            from_status=from_status,
            to_status=to_status,
            payload=payload or {},
        )
    )
    if was_paid != now_paid:
        sign = 1 if now_paid else -1
        received = sign * order.amount_received
        if batch is not None:
            batch.bump(order.created_day, paid=sign, received=received)
        else:
            await repo.bump_daily(
                db, order.created_day, rollup_shard(), paid=sign, received=received
            )
    if to_status in PUBLISHED_ON and from_status != to_status:
        event = changed(order, PUBLISHED_ON[to_status], base_url)
        if batch is not None:
            batch.events.append(event)
        else:
            await publish(db, event)
    if to_status == CONFIRMED and from_status != to_status:
        # The sweep job, written with the confirmation (the outbox): the funds are final.
        if batch is not None:
            batch.sweeps.append(order)
        else:
            await sweeps.enqueue(db, order)


def changed(order: Order, type_: str, base_url: str | None) -> OrderChanged:
    """The event of the order's change, with the order as its merchant sees it now."""
    if base_url is None:  # the caller's mistake: the webhook body needs the checkout_url
        raise ValueError(f"{type_} of order {order.id} needs base_url")
    data = PaymentOut.of(order, base_url).model_dump(mode="json")
    return OrderChanged(type=type_, order=order, data=data, at=utcnow())


async def on_webhooks_settled(db: AsyncSession, settled: Sequence[WebhookSettled]) -> None:
    """The outbox delivered or gave up webhooks (`webhook.delivered`, `webhook.failed`); for an
    order's `order.confirmed`: delivered completes the order, given up marks its callback
    failed and opens an incident. The orders are locked in id order, in one query."""
    confirmed = [s for s in settled if s.event_type == events.CONFIRMED]
    if not confirmed:
        return
    orders = await repo.lock_many(db, {s.subject_id for s in confirmed})
    for outcome in confirmed:
        order = orders.get(outcome.subject_id)
        if order is None:  # pragma: no cover - orders are never deleted
            continue
        if outcome.delivered:
            if order.status in (CONFIRMED, CALLBACK_FAILED):
                await transition(
                    db, order, COMPLETED, "webhook_delivered", outcome.details, base_url=None
                )
            continue
        if order.status == CONFIRMED:
            await transition(
                db, order, CALLBACK_FAILED, "webhook_failed", outcome.details, base_url=None
            )
        details = outcome.details
        db.add(
            Incident(
                event_type=WEBHOOK_FAILED,
                payload={"reason": details["reason"], "attempt": details["attempt"]},
                order_id=order.id,
                merchant_id=order.merchant_id,
            )
        )


async def expire_due(db: AsyncSession, pool: Pool, *, base_url: str, limit: int = 500) -> int:
    """Expire pending orders past `expires_at` (never one with a transfer awaiting finality).

    Nothing received: `expired`, and the address goes back to the pool after the cooldown.
    Something short of the amount: `expired` with an `underpaid` event, and the address stays
    allocated to the order (it holds a balance to sweep).
    """
    orders = await repo.due_to_expire(db, utcnow(), limit)
    batch = TransitionBatch()
    for order in orders:
        await transition(
            db,
            order,
            EXPIRED,
            "expired",
            {"expires_at": order.expires_at.isoformat()},
            base_url=base_url,
            batch=batch,
        )
        if order.amount_received:
            _note(
                db,
                order,
                "underpaid",
                {
                    "amount_expected": format_usdt(order.amount_expected),
                    "amount_received": format_usdt(order.amount_received),
                    "shortfall": format_usdt(order.amount_expected - order.amount_received),
                },
            )
            batch.sweeps.append(order)  # what it received is final: sweep it too
        else:
            await addresses.release_after_cooldown(db, pool, order.address_id, order.id)
    await batch.flush(db)
    return len(orders)


# --- payments (the chain scanner calls these for each transfer to an order's address) ---


def _note(db: AsyncSession, order: Order, event_type: str, payload: dict[str, Any]) -> None:
    """An order event that does not change the status."""
    order.updated_at = utcnow()
    db.add(
        OrderEvent(
            order_id=order.id,
            event_type=event_type,
            from_status=order.status,
            to_status=order.status,
            payload=payload,
        )
    )


def _transfer_payload(t: ChainTransfer) -> dict[str, Any]:
    return {
        "tx_hash": t.tx_hash,
        "event_index": t.event_index,
        "amount": format_usdt(t.amount),
        "from": t.from_address,
        "block_number": t.block_number,
    }


async def payment_seen(
    db: AsyncSession,
    order: Order,
    t: ChainTransfer,
    *,
    base_url: str,
    batch: TransitionBatch | None = None,
) -> None:
    """A transfer to the order's address appeared on chain (not final yet).

    An open order waits for it (`confirming`); an expired or paid order records a late
    payment, and an incident tells the operators.
    """
    payload = _transfer_payload(t)
    if order.status == PENDING:
        await transition(
            db, order, CONFIRMING, "payment_seen", payload, base_url=base_url, batch=batch
        )
    elif order.status == CONFIRMING:
        _note(db, order, "payment_seen", payload)
    else:
        _note(db, order, LATE_PAYMENT, payload)
        db.add(
            Incident(
                event_type=LATE_PAYMENT,
                payload={**payload, "address": order.address, "order_status": order.status},
                order_id=order.id,
                merchant_id=order.merchant_id,
            )
        )


async def payment_dropped(
    db: AsyncSession,
    order: Order,
    t: ChainTransfer,
    sums: tuple[int, int],
    *,
    base_url: str,
    batch: TransitionBatch | None = None,
) -> None:
    """A seen transfer vanished in a reorg; `sums` are the order's (final, seen) without it."""
    _, seen = sums
    payload = {**_transfer_payload(t), "reason": "reorg"}
    if order.status == CONFIRMING and seen == 0:
        await transition(
            db, order, PENDING, "payment_dropped", payload, base_url=base_url, batch=batch
        )
    else:
        _note(db, order, "payment_dropped", payload)


async def payment_final(
    db: AsyncSession,
    order: Order,
    t: ChainTransfer,
    sums: tuple[int, int],
    *,
    tolerance: int,
    base_url: str,
    batch: TransitionBatch | None = None,
) -> None:
    """A transfer became final; `sums` are the order's (final, seen) with it counted final.

    amount_received is always the sum of the order's final transfers. An open order whose
    final sum reaches amount_expected - tolerance is `confirmed` (tx_hash: this transfer, an
    `overpaid` event above the amount); short of it, a `partial_payment` event, and the order
    is `pending` again unless another transfer is still on its way.
    """
    final, seen = sums
    payload = _transfer_payload(t)
    money = {
        "amount_expected": format_usdt(order.amount_expected),
        "amount_received": format_usdt(final),
    }
    if order.status not in OPEN:  # a late payment: counted, the status stays
        await repo.bump_received(db, order, final - order.amount_received, rollup_shard())
        order.amount_received = final
        _note(db, order, "late_payment_final", {**payload, **money})
        return
    order.amount_received = final
    if final >= order.amount_expected - tolerance:
        order.tx_hash = t.tx_hash
        await transition(
            db, order, CONFIRMED, "confirmed", {**payload, **money}, base_url=base_url, batch=batch
        )
        if final > order.amount_expected:
            excess = format_usdt(final - order.amount_expected)
            _note(db, order, "overpaid", {**money, "excess": excess})
        return
    partial = {**payload, **money, "remaining": format_usdt(order.amount_expected - final)}
    if order.status == CONFIRMING and seen == 0:
        await transition(
            db, order, PENDING, "partial_payment", partial, base_url=base_url, batch=batch
        )
    else:
        _note(db, order, "partial_payment", partial)


async def search(db: AsyncSession, f: OrderFilter, paging: PageQuery) -> Page[tuple[Order, str]]:
    """Orders matching `f` with their merchant's name, newest first."""
    rows, total = await repo.page(db, f, offset=paging.offset, limit=paging.limit)
    return Page(items=rows, page=paging.page, limit=paging.limit, total=total)


async def get_for_merchant(db: AsyncSession, merchant: Merchant, order_id: uuid.UUID) -> Order:
    order = await repo.get(db, order_id)
    if order is None or order.merchant_id != merchant.id:
        raise OrderNotFound()  # another merchant's order does not exist for this one
    return order


async def get(db: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await repo.get(db, order_id)
    if order is None:
        raise OrderNotFound()
    return order


async def request_webhook_retry(
    db: AsyncSession,
    order_id: uuid.UUID,
    callback_url: str | None,
    actor: Actor,
    *,
    base_url: str,
) -> None:
    """Queue another delivery of the order's `order.confirmed` webhook (same webhook-id);
    the URL override is for this retry only and is never stored on the order."""
    order = await get(db, order_id)
    if order.status not in WEBHOOK_RETRYABLE:
        raise InvalidState("Only orders whose webhook failed can be retried")
    payload = {"callback_url_override": callback_url} if callback_url else {}
    db.add(
        OrderEvent(
            order_id=order.id,
            event_type="webhook_retry_requested",
            from_status=order.status,
            to_status=order.status,
            payload=payload,
        )
    )
    if not await _has_webhook_target(db, order, callback_url):
        raise InvalidState(
            "There is nowhere to send it: the order has no callback_url and the merchant no "
            "webhook_url; give callback_url"
        )
    confirmed = changed(order, events.CONFIRMED, base_url)
    await publish(db, WebhookRetryRequested(order, confirmed, callback_url))
    audit.record(
        db, actor, "order.retry_webhook", target_type="order", target_id=order.id, details=payload
    )


async def _has_webhook_target(db: AsyncSession, order: Order, url_override: str | None) -> bool:
    if url_override or order.callback_url:
        return True
    merchant = await merchants.get(db, order.merchant_id)
    return bool(merchant and merchant.webhook_url)


async def request_sweep_retry(
    db: AsyncSession, order_id: uuid.UUID, *, sweep_enabled: bool, actor: Actor
) -> None:
    """Resume the order's failed sweep at the step it failed in (audited)."""
    order = await get(db, order_id)
    if not sweep_enabled:
        raise SweepDisabled()
    sweep = await sweeps.failed_for_order(db, order.id)
    if sweep is None:
        raise InvalidState(f"Order {order.id} has no failed sweep to retry")
    await sweeps.retry(db, order, sweep, actor)
