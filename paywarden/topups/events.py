"""What the top-ups publish on the bus (`kit/events`): a top-up credited, in the transaction of
the credit (once: a credited top-up is never credited again), for the client's message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

CREDITED = "topup.credited"


@dataclass(frozen=True)
class TopupCredited:
    topup_id: uuid.UUID
    client_id: uuid.UUID
    amount: int  # minor units of `currency`: what the wallet got, the fee taken
    currency: str  # the wallet credited
    usdt: int  # micro-USDT received
    type: str = CREDITED
