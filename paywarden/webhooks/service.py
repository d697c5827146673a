"""Webhook rules: what to send where (the outbox), and what each attempt's outcome means.

The outbox knows events, endpoints and attempts, not what the events are about: a publisher
hands it a `Message` (type, subject id, merchant, the rendered `data`), and `enqueue` writes the
event and its delivery in the caller's transaction, so a status change and the webhook it
causes commit together (the orders' `OrderChanged` becomes a `Message` in
`paywarden/subscribers.py`). The dispatcher (`tasks.py`) sends them and hands each outcome back
to `record_attempt`; a delivery delivered or given up is published (`webhooks/events.py`) for
the subject's package to react, in the same transaction.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import events, netguard
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.time import iso, utcnow
from paywarden.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from paywarden.models.webhooks import D_DELIVERED, D_FAILED, D_PENDING
from paywarden.webhooks import repository as repo
from paywarden.webhooks.events import DELIVERED, FAILED, DeliveryOutcome
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


@dataclass(frozen=True)
class Message:
    """One event to tell a merchant, as its publisher rendered it: the outbox knows events,
    endpoints and attempts, not what the subject (an order) is."""

    type: str  # order.confirmed, order.expired
    subject_id: uuid.UUID  # what the event is about (the `order_id` column)
    merchant_id: uuid.UUID
    data: dict[str, Any]  # the body's `data`
    at: datetime  # when it happened: the event's created_at
    callback_url: str | None  # the subject's own URL; else the merchant's webhook_url


def body(message: Message, event_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": message.type,
        "created_at": iso(message.at),
        "data": message.data,
    }


async def enqueue(
    db: AsyncSession, message: Message, *, url_override: str | None = None
) -> WebhookEvent:
    """Write the event and a delivery to the message's callback_url, else the merchant's
    webhook_url (or `url_override`, used once); with no URL at all, the event alone."""
    event = new_event(message)
    db.add(event)
    await db.flush()  # the delivery's foreign key needs the event row first
    await _deliver(db, event, message, url_override)
    return event


def new_event(message: Message) -> WebhookEvent:
    """The event as `enqueue` writes it, not yet added."""
    event = WebhookEvent(
        id=uuid.uuid4(),
        order_id=message.subject_id,
        merchant_id=message.merchant_id,
        type=message.type,
        created_at=message.at,
    )
    event.payload = body(message, event.id)
    return event


async def enqueue_many(db: AsyncSession, messages: Sequence[Message]) -> None:
    """`enqueue` for a batch: the events in one flush, then their deliveries (written with the
    caller's next flush). The scanner's passes use it."""
    if not messages:
        return
    events = [new_event(message) for message in messages]
    db.add_all(events)
    await db.flush()  # the deliveries' foreign keys need the event rows first
    for event, message in zip(events, messages, strict=True):
        await _deliver(db, event, message, None)


async def redeliver(db: AsyncSession, message: Message, *, url_override: str | None = None) -> bool:
    """A new delivery of the subject's latest event of the message's type (same webhook-id, so
    receivers deduplicate); a subject that never had one gets `message` now.
    False when there is no URL to deliver to."""
    if not await target_url(db, message.merchant_id, message.callback_url, url_override):
        return False
    event = await repo.latest_event(db, message.subject_id, message.type)
    if event is None:
        await enqueue(db, message, url_override=url_override)
    else:
        await _deliver(db, event, message, url_override)
    return True


async def target_url(
    db: AsyncSession, merchant_id: uuid.UUID, callback_url: str | None, url_override: str | None
) -> str | None:
    """The override, else the subject's callback_url, else the merchant's webhook_url."""
    if url_override or callback_url:
        return url_override or callback_url
    merchant = await repo.merchant(db, merchant_id)
    return merchant.webhook_url if merchant else None


async def _deliver(
    db: AsyncSession, event: WebhookEvent, message: Message, url_override: str | None
) -> None:
    url = await target_url(db, message.merchant_id, message.callback_url, url_override)
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


async def record_attempt(db: AsyncSession, job: Job, result: Result, policy: WebhookPolicy) -> str:
    """Store the attempt and decide: delivered, retry later, or give up. Returns the status."""
    [status] = await record_attempts(db, [(job, result)], policy)
    return status


async def record_attempts(
    db: AsyncSession, outcomes: Sequence[tuple[Job, Result]], policy: WebhookPolicy
) -> list[str]:
    """`record_attempt` for a batch, in the caller's transaction: the deliveries are locked in
    one query (in id order), the rows written in one flush; the deliveries delivered or given
    up are then published (`webhook.delivered`, `webhook.failed`) in one batch, for their
    subjects' packages to react in this transaction. Returns each outcome's status, in order."""
    if not outcomes:
        return []
    deliveries = await repo.deliveries(db, {job.delivery_id for job, _ in outcomes})
    settled: list[DeliveryOutcome] = []
    with db.no_autoflush:  # nothing below reads what it writes: one flush for the batch
        statuses = [
            _record(db, job, result, deliveries.get(job.delivery_id), policy, settled)
            for job, result in outcomes
        ]
    await events.publish_all(db, settled)
    return statuses


def _record(
    db: AsyncSession,
    job: Job,
    result: Result,
    delivery: WebhookDelivery | None,
    policy: WebhookPolicy,
    settled: list[DeliveryOutcome],
) -> str:
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
        settled.append(_outcome(DELIVERED, job, delivery))
        return D_DELIVERED
    delivery.last_error = result.reason
    if result.http_status == 410 or job.attempt >= policy.max_attempts:
        delivery.status = D_FAILED
        settled.append(_outcome(FAILED, job, delivery, reason=result.reason))
        return D_FAILED
    delay = policy.retry_delays[min(job.attempt, len(policy.retry_delays)) - 1]
    jitter = random.uniform(0, JITTER)  # noqa: S311 - spreads retries, not a secret
    delivery.status = D_PENDING
    delivery.next_attempt_at = now + timedelta(seconds=delay * (1 + jitter))
    return D_PENDING


def _outcome(type_: str, job: Job, delivery: WebhookDelivery, **extra: Any) -> DeliveryOutcome:
    details = {"webhook_id": str(job.event_id), "delivery_id": str(delivery.id)}
    return DeliveryOutcome(
        type=type_,
        event_type=job.event_type,
        subject_id=job.order_id,
        merchant_id=job.merchant_id,
        details={**details, "attempt": job.attempt, **extra},
    )


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
