"""What the subscriptions publish on the bus (`kit/events`), for the client's message: a period
paid by a renewal (an active subscription's next period, or a past-due one paid again), and a
renewal that found no funds (the subscription falls past due). Published in the transaction of
the change, once per period that ended: `period_end` names it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

RENEWED = "subscription.renewed"
PAST_DUE = "subscription.past_due"


@dataclass(frozen=True)
class SubscriptionChanged:
    type: str  # RENEWED | PAST_DUE
    subscription_id: uuid.UUID
    client_id: uuid.UUID
    period_end: datetime  # the end of the period that ended (what was renewed, or not)
    plan: str  # the plan's name
    amount: int  # minor units of `currency`: charged (RENEWED), due (PAST_DUE)
    currency: str
    next_at: datetime | None = None  # RENEWED: when the new period ends
