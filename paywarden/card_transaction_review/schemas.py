"""The card-transaction views in and out. Amounts are strings with 2 decimals."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from paywarden.card_transaction_review.repository import Dimension, Group, TxRow
from paywarden.kit.casing import RequestModel
from paywarden.kit.money import percent
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import as_utc, iso, until_inclusive
from paywarden.models.cards import DECLINE_REASONS, TX_STATUSES
from paywarden.plans.amounts import format_cents

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
TxStatus = Literal[TX_STATUSES]  # type: ignore[valid-type]
DeclineReason = Literal[DECLINE_REASONS]  # type: ignore[valid-type]
Mcc = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]


def lower_bound(text: str | None) -> datetime | None:
    """A date is its first instant (UTC); a time without offset is UTC."""
    if text is None:
        return None
    if _DATE_ONLY.match(text):
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    return as_utc(datetime.fromisoformat(text))


def upper_bound(text: str | None) -> datetime | None:
    """Inclusive: a date covers its whole day, a time to the millisecond that millisecond."""
    if text is None:
        return None
    if _DATE_ONLY.match(text):
        start = lower_bound(text)
        assert start is not None
        return start + timedelta(days=1) - timedelta(microseconds=1)
    return until_inclusive(datetime.fromisoformat(text))


class Window(RequestModel):
    from_: str | None = Field(default=None, alias="from", max_length=40)
    to: str | None = Field(default=None, max_length=40)

    @field_validator("from_", "to")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            bound = lower_bound(value)
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 date or date-time") from exc
        # Far from datetime's ends, so the window's arithmetic (a day, 30 days) cannot overflow.
        if bound is None or not EARLIEST <= bound <= LATEST:
            raise ValueError("must be between the years 1970 and 9000")
        return value

    @property
    def since(self) -> datetime | None:
        return lower_bound(self.from_)

    @property
    def until(self) -> datetime | None:
        return upper_bound(self.to)


class TxQuery(PageQuery, Window):
    client_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    status: TxStatus | None = None
    decline_reason: DeclineReason | None = None
    merchant: str | None = Field(default=None, min_length=1, max_length=255)
    mcc: Mcc | None = None
    country: Country | None = None


class TxOut(BaseModel):
    id: uuid.UUID
    card_id: uuid.UUID
    card_last4: str | None
    client_id: uuid.UUID
    client_external_user_id: str | None
    issuer: str
    issuer_transaction_id: str
    status: str
    decline_reason: str | None
    raw_code: str | None  # the issuer's own code
    amount: str  # billing, in the card's currency, FX fee included
    currency: str
    fx_fee: str
    merchant_amount: str
    merchant_currency: str
    settled_amount: str | None
    refunded_amount: str
    merchant: str | None
    mcc: str | None
    country: str | None
    three_ds: bool | None
    created_at: str
    settled_at: str | None

    @classmethod
    def of(cls, row: TxRow) -> TxOut:
        t = row.tx
        return cls(
            id=t.id,
            card_id=t.card_id,
            card_last4=row.card_last4,
            client_id=t.client_id,
            client_external_user_id=row.external_user_id,
            issuer=t.issuer,
            issuer_transaction_id=t.issuer_transaction_id,
            status=t.status,
            decline_reason=t.decline_reason,
            raw_code=t.raw_code,
            amount=format_cents(t.amount),
            currency=t.currency,
            fx_fee=format_cents(t.fx_fee or 0),
            merchant_amount=format_cents(t.merchant_amount),
            merchant_currency=t.merchant_currency,
            settled_amount=format_cents(t.settled_amount) if t.settled_amount is not None else None,
            refunded_amount=format_cents(t.refunded_amount or 0),
            merchant=t.merchant,
            mcc=t.mcc,
            country=t.country,
            three_ds=t.three_ds,
            created_at=iso(t.created_at) or "",
            settled_at=iso(t.settled_at),
        )


class TxPage(BaseModel):
    data: list[TxOut]
    pagination: Pagination


class BreakdownQuery(Window):
    by: Dimension
    limit: int = Field(default=20, ge=1, le=100)


class GroupOut(BaseModel):
    key: str | None  # the merchant, decline reason, MCC or client id (null: none recorded)
    label: str | None  # what to show: the key, or the client's external user id
    count: int
    approved: int
    declined: int
    approval_rate: str | None  # percent of decided ones approved; null when none was decided
    volume: dict[str, str]  # per currency: approved, settled and refunded purchases

    @classmethod
    def of(cls, g: Group) -> GroupOut:
        decided = g.approved + g.declined
        return cls(
            key=g.key,
            label=g.label,
            count=g.count,
            approved=g.approved,
            declined=g.declined,
            approval_rate=percent(g.approved, decided) if decided else None,
            volume={c: format_cents(v) for c, v in sorted(g.volume.items())},
        )


class BreakdownOut(BaseModel):
    by: str
    from_: str | None = Field(serialization_alias="from")
    to: str | None
    data: list[GroupOut]
