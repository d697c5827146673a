"""What the outbox publishes on the bus (`kit/events`) when a delivery's fate is settled.

The outbox never imports what its events are about: the orders subscribe to these (wired in
`paywarden/subscribers.py`) and move an order to `completed` or `callback_failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

DELIVERED = "webhook.delivered"
FAILED = "webhook.failed"  # given up: out of attempts, or the receiver answered 410


@dataclass(frozen=True)
class DeliveryOutcome:
    type: str  # DELIVERED | FAILED
    event_type: str  # the webhook's own type, e.g. order.confirmed
    subject_id: UUID  # what the webhook was about (an order's id)
    merchant_id: UUID
    # webhook_id, delivery_id, attempt; and when FAILED, the reason.
    details: dict[str, Any]

    @property
    def delivered(self) -> bool:
        return self.type == DELIVERED
