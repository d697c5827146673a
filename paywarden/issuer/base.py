"""What the cards product needs from a card issuer, in one normalized vocabulary.

An adapter translates between an issuer's own API and these types; nothing outside the adapter
knows the issuer's field names or codes (the raw code is kept beside the normalized one). A
second issuer is a new module of this package implementing `IssuerAdapter` with a
`build(settings)` function (see registry.py); nothing outside it changes.

Two directions:
- we call the issuer (create, freeze, unfreeze, close, set a limit, card details, balances,
  profile validation, health) through the adapter's HTTP client;
- the issuer calls us: a real-time authorization request, and webhooks (settlement, reversal,
  refund, expiry, 3-D Secure codes). Both are signed; the adapter verifies the raw body and
  parses it into `AuthorizationRequest` / `IssuerEventData`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

CardStatus = Literal["active", "frozen", "closed"]
TxStatus = Literal["pending", "approved", "declined", "settled", "reversed", "refunded", "expired"]
DeclineReason = Literal[
    "insufficient_funds",
    "do_not_honor",
    "3ds_failed",
    "card_inactive",
    "spending_limit",
    "suspected_fraud",
    "other",
]
# Normalized webhook event kinds.
EventKind = Literal[
    "transaction.settled",  # a purchase settled (perhaps for less than authorized)
    "transaction.reversed",  # an authorization cancelled before settlement
    "transaction.expired",  # an authorization that never settled
    "transaction.refunded",  # money back for a settled purchase
    "transaction.declined",  # the issuer declined on its own (we are told after the fact)
    "3ds.code",  # a 3-D Secure one-time code for a purchase
    "card.updated",  # the issuer changed a card's state on its side
    "other",
]


class IssuerError(Exception):
    """The issuer refused or failed a call; `retryable` when a retry may succeed."""

    def __init__(self, message: str, *, retryable: bool = False, raw_code: str | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.raw_code = raw_code


class InvalidSignature(Exception):
    """A request claiming to come from the issuer failed verification (bad MAC, stale time)."""


@dataclass(frozen=True)
class IssuedCard:
    issuer_card_id: str
    last4: str
    status: CardStatus


@dataclass(frozen=True)
class CardDetails:
    """The holder's card data, fetched on demand: never stored, never logged."""

    pan: str
    expiry: str  # MM/YY
    cvv: str

    def __repr__(self) -> str:  # keeps the data out of logs and tracebacks
        return f"CardDetails(pan=…{self.pan[-4:]}, expiry=**/**, cvv=***)"


@dataclass(frozen=True)
class ProfileCheck:
    """The outcome of validating one B2B profile through the issuer's token flow."""

    ok: bool
    external_id: str | None
    reason: str | None = None  # why it failed, in words an operator understands


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """The issuer asks us to approve a purchase, now."""

    issuer_transaction_id: str
    issuer_card_id: str
    amount: int  # the billing amount, in the card's currency (cents), before our FX fee
    currency: str  # the card's currency
    merchant_amount: int  # in the purchase's currency (cents)
    merchant_currency: str
    merchant: str | None
    mcc: str | None
    country: str | None
    three_ds: bool | None
    occurred_at: datetime


@dataclass(frozen=True)
class Decision:
    approved: bool
    decline_reason: DeclineReason | None = None


@dataclass(frozen=True)
class IssuerEventData:
    """A webhook, parsed. Fields a kind does not use are None."""

    event_id: str  # the issuer's id of this event: the inbox's unique key
    kind: EventKind
    raw_type: str
    occurred_at: datetime | None
    issuer_transaction_id: str | None = None
    issuer_card_id: str | None = None
    amount: int | None = None  # card currency cents (settled / refunded amount)
    currency: str | None = None
    merchant_amount: int | None = None
    merchant_currency: str | None = None
    merchant: str | None = None
    mcc: str | None = None
    country: str | None = None
    decline_reason: DeclineReason | None = None
    raw_code: str | None = None
    card_status: CardStatus | None = None
    code: str | None = None  # a 3-D Secure code (kind "3ds.code"): never logged
    code_expires_at: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:  # the 3DS code stays out of logs
        return f"IssuerEventData(event_id={self.event_id!r}, kind={self.kind!r})"


class IssuerAdapter(Protocol):
    """One card issuer. Amounts are integers in cents; currencies "EUR" or "USD"."""

    name: str  # the path segment of its inbound routes: /api/v1/issuer/<name>/...

    async def create_card(
        self, *, currency: str, monthly_limit: int, label: str | None, reference: str
    ) -> IssuedCard:
        """`reference` is our card id: the issuer keeps it, a retry with it is not a second card."""
        ...

    async def freeze(self, issuer_card_id: str) -> None: ...

    async def unfreeze(self, issuer_card_id: str) -> None: ...

    async def close(self, issuer_card_id: str) -> None: ...

    async def set_limit(self, issuer_card_id: str, monthly_limit: int) -> None: ...

    async def card_details(self, issuer_card_id: str) -> CardDetails: ...

    async def balances(self) -> dict[str, int]:
        """The issuer account's balance per currency (the seed's "Issuer balance (live)")."""
        ...

    async def validate_profile(self, profile: Mapping[str, object]) -> ProfileCheck:
        """Run the issuer's token flow with a B2B profile's credentials."""
        ...

    async def health(self) -> Health: ...

    def verify(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> None:
        """Check an inbound request's signature on the raw body (any of the configured secrets,
        timestamp within 5 minutes); raises InvalidSignature."""
        ...

    def parse_authorization(self, payload: Mapping[str, object]) -> AuthorizationRequest:
        """Raises ValueError on a malformed request."""
        ...

    def authorization_answer(self, decision: Decision) -> dict[str, object]:
        """The JSON body the issuer expects back from an authorization request."""
        ...

    def parse_event(self, payload: Mapping[str, object]) -> IssuerEventData:
        """Raises ValueError on a malformed event."""
        ...

    async def aclose(self) -> None: ...
