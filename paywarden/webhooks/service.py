"""Webhook rules: what to send where (the outbox), and what each attempt's outcome means.

`enqueue` writes the event and its delivery in the caller's transaction, so a status change and
the webhook it causes commit together. The dispatcher (`tasks.py`) sends them and hands each
outcome back to `record_attempt`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import netguard
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.time import iso, utcnow
from paywarden.models import Incident, Order, WebhookAttempt, WebhookDelivery, WebhookEvent
from paywarden.models.incidents import WEBHOOK_FAILED
from paywarden.models.orders import CALLBACK_FAILED, COMPLETED, CONFIRMED
from paywarden.models.webhooks import D_DELIVERED, D_FAILED, D_PENDING, ORDER_CONFIRMED
from paywarden.orders.schemas import PaymentOut
from paywarden.webhooks import repository as repo
from paywarden.webhooks.signing import body_bytes

DEFAULT_RETRY_DELAYS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400)
JITTER = 0.10  # up to 10% added to each delay
STALE_CLAIM = timedelta(seconds=60)  # a `delivering` row older than this lost its worker
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class WebhookPolicy:
    """Retry schedule and the SSRF guard, from WEBHOOK_RETRY_DELAYS / WEBHOOK_ALLOW_PRIVATE /
    WEBHOOK_ALLOW_HTTP."""

    retry_delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS
    # The SSRF guard (production): only https (http with `allow_http`) URLs without credentials
    # whose host is, and resolves only to, public addresses; checked when saved and when sent.
    refuse_private: bool = False
    allow_http: bool = False
    # How host names are resolved (None: the event loop's getaddrinfo); tests give a fake DNS.
    resolver: netguard.Resolver | None = None

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1


async def check_destination(policy: WebhookPolicy, name: str, url: str | None) -> None:
    """A webhook or callback URL about to be saved: with the guard on (production), one the
    dispatcher would refuse is refused now, 400 VALIDATION_ERROR naming the field (`name`)."""
    if url is None or not policy.refuse_private:
        return
    try:
        await netguard.check_url(url, allow_http=policy.allow_http, resolver=policy.resolver)
    except netguard.UnsafeUrl as exc:
        raise ValidationFailed(f"{name}: {exc}") from exc


def payload(order: Order, type_: str, event_id: uuid.UUID, now: datetime, base_url: str) -> dict:
    data = PaymentOut.of(order, base_url).model_dump(mode="json")
    return {"id": str(event_id), "type": type_, "created_at": iso(now), "data": data}


async def enqueue(
    db: AsyncSession,
    order: Order,
    type_: str,
    *,
    base_url: str,
    url_override: str | None = None,
) -> WebhookEvent:
    """Write the event and a delivery to the order's callback_url, else the merchant's
    webhook_url (or `url_override`, used once); with no URL at all, the event alone."""
    event = new_event(order, type_, base_url=base_url)
    db.add(event)
    await db.flush()  # the delivery's foreign key needs the event row first
    await _deliver(db, event, order, url_override)
    return event


def new_event(order: Order, type_: str, *, base_url: str) -> WebhookEvent:
    """The event as `enqueue` would write it, its payload taken now, not yet added."""
    now = utcnow()
    event = WebhookEvent(
        id=uuid.uuid4(),
        order_id=order.id,
        merchant_id=order.merchant_id,
        type=type_,
        created_at=now,
    )
    event.payload = payload(order, type_, event.id, now, base_url)
    return event


async def enqueue_many(db: AsyncSession, events: Sequence[tuple[WebhookEvent, Order]]) -> None:
    """`enqueue` for a batch of events built by `new_event`: the events in one flush, then
    their deliveries (written with the caller's next flush). The scanner's passes use it."""
    if not events:
        return
    db.add_all([event for event, _ in events])
    await db.flush()  # the deliveries' foreign keys need the event rows first
    for event, order in events:
        await _deliver(db, event, order, None)


async def redeliver(
    db: AsyncSession, order: Order, *, base_url: str, url_override: str | None = None
) -> bool:
    """A new delivery of the order's latest `order.confirmed` (same webhook-id, so receivers
    deduplicate); an order that never had one (its status set by hand) gets one now.
    False when there is no URL to deliver to."""
    if not await _target_url(db, order, url_override):
        return False
    event = await repo.latest_event(db, order.id, ORDER_CONFIRMED)
    if event is None:
        await enqueue(db, order, ORDER_CONFIRMED, base_url=base_url, url_override=url_override)
    else:
        await _deliver(db, event, order, url_override)
    return True


async def _target_url(db: AsyncSession, order: Order, url_override: str | None) -> str | None:
    """The override, else the order's callback_url, else the merchant's webhook_url."""
    if url_override or order.callback_url:
        return url_override or order.callback_url
    merchant = await repo.merchant(db, order.merchant_id)
    return merchant.webhook_url if merchant else None


async def _deliver(
    db: AsyncSession, event: WebhookEvent, order: Order, url_override: str | None
) -> None:
    url = await _target_url(db, order, url_override)
    if url is None:
        return
    db.add(
        WebhookDelivery(
            id=uuid.uuid4(),
            event_id=event.id,
            url=url,
            status=D_PENDING,
            attempt_count=0,
            next_attempt_at=utcnow(),
            one_shot=url_override is not None,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class Job:
    """One claimed delivery, detached from the session: what the sender needs."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    order_id: uuid.UUID
    merchant_id: uuid.UUID
    url: str
    attempt: int
    body: bytes
    secret: str = field(repr=False)  # the merchant's webhook secret, decrypted: never logged


async def claim_due(db: AsyncSession, *, limit: int = 100) -> list[Job]:
    """Put stale claims back to pending, then claim what is due."""
    now = utcnow()
    await repo.release_stale(db, now - STALE_CLAIM)
    return [
        Job(
            delivery_id=d.id,
            event_id=e.id,
            event_type=e.type,
            order_id=e.order_id,
            merchant_id=e.merchant_id,
            url=d.url,
            attempt=d.attempt_count + 1,
            body=body_bytes(e.payload),
            secret=secret,
        )
        for d, e, secret in await repo.claim_due(db, now, limit)
    ]


@dataclass(frozen=True)
class Result:
    started_at: datetime
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def reason(self) -> str:
        return self.error or f"HTTP {self.http_status}"


async def record_attempt(
    db: AsyncSession, job: Job, result: Result, policy: WebhookPolicy, *, base_url: str
) -> str:
    """Store the attempt and decide: delivered, retry later, or give up. Returns the status."""
    [status] = await record_attempts(db, [(job, result)], policy, base_url=base_url)
    return status


async def record_attempts(
    db: AsyncSession,
    outcomes: Sequence[tuple[Job, Result]],
    policy: WebhookPolicy,
    *,
    base_url: str,
) -> list[str]:
    """`record_attempt` for a batch, in the caller's transaction: the deliveries and their
    orders are locked in two queries (in id order), the rows written in one flush at commit.
    Returns each outcome's status, in order."""
    if not outcomes:
        return []
    deliveries = await repo.deliveries(db, {job.delivery_id for job, _ in outcomes})
    orders = await repo.orders(db, {job.order_id for job, _ in outcomes})
    with db.no_autoflush:  # nothing below reads what it writes: one flush for the batch
        return [
            await _record(
                db,
                job,
                result,
                deliveries.get(job.delivery_id),
                orders.get(job.order_id),
                policy,
                base_url,
            )
            for job, result in outcomes
        ]


async def _record(
    db: AsyncSession,
    job: Job,
    result: Result,
    delivery: WebhookDelivery | None,
    order: Order | None,
    policy: WebhookPolicy,
    base_url: str,
) -> str:
    from paywarden.orders import service as orders  # orders.service imports this module

    db.add(
        WebhookAttempt(
            delivery_id=job.delivery_id,
            attempt=job.attempt,
            started_at=result.started_at,
            duration_ms=result.duration_ms,
            http_status=result.http_status,
            error=result.error,
            response_excerpt=result.response_excerpt,
        )
    )
    if delivery is None:  # pragma: no cover - deliveries are never deleted
        return D_FAILED
    delivery.attempt_count = max(delivery.attempt_count, job.attempt)
    now = utcnow()
    if result.ok:
        delivery.status, delivery.delivered_at, delivery.last_error = D_DELIVERED, now, None
        if (
            job.event_type == ORDER_CONFIRMED
            and order
            and order.status in (CONFIRMED, CALLBACK_FAILED)
        ):
            await orders.transition(
                db,
                order,
                COMPLETED,
                "webhook_delivered",
                _event_payload(job, delivery),
                base_url=base_url,
            )
        return D_DELIVERED
    delivery.last_error = result.reason
    if result.http_status == 410 or job.attempt >= policy.max_attempts:
        delivery.status = D_FAILED
        if job.event_type == ORDER_CONFIRMED:
            if order and order.status == CONFIRMED:
                await orders.transition(
                    db,
                    order,
                    CALLBACK_FAILED,
                    "webhook_failed",
                    {**_event_payload(job, delivery), "reason": result.reason},
                    base_url=base_url,
                )
            db.add(
                Incident(
                    event_type=WEBHOOK_FAILED,
                    payload={"reason": result.reason, "attempt": job.attempt},
                    order_id=job.order_id,
                    merchant_id=job.merchant_id,
                )
            )
        return D_FAILED
    delay = policy.retry_delays[min(job.attempt, len(policy.retry_delays)) - 1]
    jitter = random.uniform(0, JITTER)  # noqa: S311 - spreads retries, not a secret
    delivery.status = D_PENDING
    delivery.next_attempt_at = now + timedelta(seconds=delay * (1 + jitter))
    return D_PENDING


def _event_payload(job: Job, delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "webhook_id": str(job.event_id),
        "delivery_id": str(delivery.id),
        "attempt": job.attempt,
    }


@dataclass(frozen=True)
class OrderWebhooks:
    events: list[tuple[WebhookEvent, list[tuple[WebhookDelivery, list[WebhookAttempt]]]]]


async def for_order(db: AsyncSession, order_id: uuid.UUID) -> OrderWebhooks:
    events, deliveries, attempts = await repo.for_order(db, order_id)
    by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(a)
    by_event: dict[uuid.UUID, list[tuple[WebhookDelivery, list[WebhookAttempt]]]] = {}
    for d in deliveries:
        by_event.setdefault(d.event_id, []).append((d, by_delivery.get(d.id, [])))
    return OrderWebhooks([(e, by_event.get(e.id, [])) for e in events])
