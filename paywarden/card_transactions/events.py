"""What the card transactions publish on the bus (`kit/events`), for the packages that tell the
client (the bot's notifications): a 3-D Secure code issued, a purchase approved or declined, a
refund. Each is published in the transaction of the change, once per change: a replayed issuer
webhook or a repeated authorization request finds the change made and publishes nothing.

The events carry what a message says, never a code: the bot reads it from its sealed row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

CODE_ISSUED = "card.code_issued"
APPROVED = "card_transaction.approved"
DECLINED = "card_transaction.declined"
REFUNDED = "card_transaction.refunded"


@dataclass(frozen=True)
class CodeIssued:
    code_id: uuid.UUID
    client_id: uuid.UUID
    card_last4: str | None
    merchant: str | None
    amount: int  # minor units of `currency` (the merchant's, as the 3-D Secure page shows)
    currency: str
    expires_at: datetime
    type: str = CODE_ISSUED


@dataclass(frozen=True)
class PurchaseChanged:
    """A purchase approved or declined (by us, or by the issuer after the fact), or refunded."""

    type: str  # APPROVED | DECLINED | REFUNDED
    key: str  # what makes it one change: the transaction's id; a refund's, the issuer event's
    client_id: uuid.UUID
    card_last4: str | None
    merchant: str | None
    amount: int  # minor units of `currency` (the card's: what the wallet pays or gets back)
    currency: str
    reason: str | None = None  # DECLINED: the issuer's DeclineReason or our refusal code
