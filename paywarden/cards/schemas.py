"""Bodies and answers of the cards API. Limits and spend are strings with 2 decimals
(`"500.00"`) in the card's currency, never floats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, StringConstraints

from paywarden.cards.service import MAX_LABEL, MAX_MONTHLY_LIMIT, spent_this_month
from paywarden.kit.casing import RequestModel
from paywarden.kit.money import CENT_DECIMALS, Amount
from paywarden.kit.time import iso
from paywarden.models import Card
from paywarden.plans.amounts import format_cents


def _blank_is_none(value: str | None) -> str | None:
    return value or None


# Above 0 and at most 100000.00 in the card's currency (kit.money's one parser).
MonthlyLimit = Annotated[
    int,
    Amount(
        CENT_DECIMALS,
        positive=True,
        max_units=MAX_MONTHLY_LIMIT,
        what="monthly_limit",
        example="500.00",
    ),
]
Label = Annotated[
    str | None,
    StringConstraints(strip_whitespace=True, max_length=MAX_LABEL),
    AfterValidator(_blank_is_none),
]


class CardIn(RequestModel):
    """A new card: `monthly_limit` in its `currency`, a decimal string with at most 2 decimals,
    above 0 and at most 100000.00; an optional `label` of up to 64 characters."""

    currency: Literal["EUR", "USD"]
    monthly_limit: MonthlyLimit
    label: Label = None


class CardLimitIn(RequestModel):
    monthly_limit: MonthlyLimit


class CardOut(BaseModel):
    id: uuid.UUID
    issuer_card_id: str
    currency: str
    monthly_limit: str
    spent_this_month: str  # "0.00" once the counter's month is over
    status: Literal["active", "frozen", "closed"]
    last4: str | None
    label: str | None
    created_at: str

    @classmethod
    def of(cls, card: Card, now: datetime | None = None) -> CardOut:
        return cls(
            id=card.id,
            issuer_card_id=card.issuer_card_id,
            currency=card.currency,
            monthly_limit=format_cents(card.monthly_limit),
            spent_this_month=format_cents(spent_this_month(card, now)),
            status=card.status,  # type: ignore[arg-type]
            last4=card.last4,
            label=card.label,
            created_at=iso(card.created_at) or "",
        )


class CardList(BaseModel):
    data: list[CardOut]  # newest first, closed cards included


class CardDetailsOut(BaseModel):
    """The holder's card data, straight from the issuer: never stored, never logged."""

    pan: str
    expiry: str  # MM/YY
    cvv: str
