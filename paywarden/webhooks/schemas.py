"""How the admin API shows an order's webhooks: events, deliveries, attempts."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from paywarden.kit.time import iso
from paywarden.models import WebhookAttempt, WebhookDelivery

if TYPE_CHECKING:
    from paywarden.webhooks.service import OrderWebhooks


class WebhookAttemptOut(BaseModel):
    attempt: int
    started_at: str
    duration_ms: int
    http_status: int | None
    error: str | None
    response_excerpt: str | None

    @classmethod
    def of(cls, a: WebhookAttempt) -> WebhookAttemptOut:
        return cls(
            attempt=a.attempt,
            started_at=iso(a.started_at) or "",
            duration_ms=a.duration_ms,
            http_status=a.http_status,
            error=a.error,
            response_excerpt=a.response_excerpt,
        )


class WebhookDeliveryOut(BaseModel):
    id: uuid.UUID
    url: str
    status: str
    one_shot: bool
    attempt_count: int
    next_attempt_at: str | None  # when pending: the next try
    last_error: str | None
    created_at: str
    delivered_at: str | None
    attempts: list[WebhookAttemptOut]

    @classmethod
    def of(cls, d: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryOut:
        return cls(
            id=d.id,
            url=d.url,
            status=d.status,
            one_shot=d.one_shot,
            attempt_count=d.attempt_count,
            next_attempt_at=iso(d.next_attempt_at) if d.status == "pending" else None,
            last_error=d.last_error,
            created_at=iso(d.created_at) or "",
            delivered_at=iso(d.delivered_at),
            attempts=[WebhookAttemptOut.of(a) for a in attempts],
        )


class WebhookEventOut(BaseModel):
    id: uuid.UUID  # the webhook-id header
    type: str
    created_at: str
    payload: dict[str, Any]
    deliveries: list[WebhookDeliveryOut]

    @classmethod
    def list_of(cls, webhooks: OrderWebhooks) -> list[WebhookEventOut]:
        return [
            cls(
                id=e.id,
                type=e.type,
                created_at=iso(e.created_at) or "",
                payload=e.payload,
                deliveries=[WebhookDeliveryOut.of(d, a) for d, a in deliveries],
            )
            for e, deliveries in webhooks.events
        ]
