"""What the card-transaction review is narrowed by (repository, API and console)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Dimension = Literal["merchant", "decline_reason", "mcc", "client_volume", "client_declines"]


@dataclass(frozen=True)
class TxFilter:
    client_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    status: str | None = None
    decline_reason: str | None = None
    merchant: str | None = None  # a substring, any case
    mcc: str | None = None
    country: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # inclusive
