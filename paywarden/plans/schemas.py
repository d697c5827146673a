from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from paywarden.kit.casing import RequestModel
from paywarden.kit.time import iso
from paywarden.models import FxRate, Plan
from paywarden.plans.amounts import (
    Cents,
    Percent,
    format_bps,
    format_cents,
    format_rate,
    parse_rate,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Bullets = Annotated[str, Field(max_length=4000)]
Count = Annotated[int, Field(ge=0, le=10_000)]
SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
# Decimal strings in (kit.money's one parser), exact integers out: cents, basis points,
# micro-USD; the document says string.
Rate = Annotated[
    int,
    BeforeValidator(parse_rate),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{1,2}(\.[0-9]{1,6})?$", "examples": ["1.0850"]}
    ),
]

# API field name -> model column, where they differ.
COLUMNS = {"topup_fee_percent": "topup_fee_bps", "fx_fee_percent": "fx_fee_bps"}


class PlanCreateIn(RequestModel):
    """Prices in EUR as decimal strings (`"9.99"`), percents as decimal strings (`"1.5"`)."""

    name: Name
    bullets: Bullets = ""
    monthly_fee: Cents
    cards_included: Count
    max_active_cards: Count
    card_issue_fee: Cents
    topup_fee_percent: Percent
    fx_fee_percent: Percent
    hidden_from_home: bool = False
    sort_order: SortOrder = 0
    is_default: bool = False
    archived: bool = False

    def columns(self) -> dict[str, Any]:
        return {COLUMNS.get(k, k): v for k, v in self.model_dump().items()}


class PlanUpdateIn(RequestModel):
    """Any of the fields of a new plan; none may be null."""

    name: Name | None = None
    bullets: Bullets | None = None
    monthly_fee: Cents | None = None
    cards_included: Count | None = None
    max_active_cards: Count | None = None
    card_issue_fee: Cents | None = None
    topup_fee_percent: Percent | None = None
    fx_fee_percent: Percent | None = None
    hidden_from_home: bool | None = None
    sort_order: SortOrder | None = None
    is_default: bool | None = None
    archived: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> PlanUpdateIn:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def columns(self) -> dict[str, Any]:
        return {COLUMNS.get(k, k): getattr(self, k) for k in self.model_fields_set}


class PlanOut(BaseModel):
    id: uuid.UUID
    name: str
    bullets: str
    currency: str
    monthly_fee: str
    monthly_fee_usd: str  # the same number as monthly_fee (the seed's API compatibility)
    cards_included: int
    max_active_cards: int
    card_issue_fee: str
    card_issue_fee_usd: str  # the same number as card_issue_fee
    topup_fee_percent: str
    fx_fee_percent: str
    hidden_from_home: bool
    sort_order: int
    is_default: bool
    archived: bool
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        return cls(**rendered(p), created_at=iso(p.created_at) or "", id=p.id)


def rendered(p: Plan) -> dict[str, Any]:
    """The plan's editable fields as the API shows them (also what the audit log records)."""
    return {
        "name": p.name,
        "bullets": p.bullets,
        "currency": p.currency,
        "monthly_fee": format_cents(p.monthly_fee),
        "monthly_fee_usd": format_cents(p.monthly_fee),
        "cards_included": p.cards_included,
        "max_active_cards": p.max_active_cards,
        "card_issue_fee": format_cents(p.card_issue_fee),
        "card_issue_fee_usd": format_cents(p.card_issue_fee),
        "topup_fee_percent": format_bps(p.topup_fee_bps),
        "fx_fee_percent": format_bps(p.fx_fee_bps),
        "hidden_from_home": p.hidden_from_home,
        "sort_order": p.sort_order,
        "is_default": p.is_default,
        "archived": p.archived,
        "updated_at": iso(p.updated_at) or "",
    }


class PlanList(BaseModel):
    data: list[PlanOut]


class FxRateIn(RequestModel):
    """`eur_usd`: the USD price of one EUR, a decimal string (at most 6 decimals, 0.1 to 10)."""

    eur_usd: Rate


class FxRateOut(BaseModel):
    eur_usd: str | None  # null until an operator sets one
    updated_at: str | None
    updated_by: str | None

    @classmethod
    def of(cls, r: FxRate | None) -> FxRateOut:
        if r is None:
            return cls(eur_usd=None, updated_at=None, updated_by=None)
        return cls(
            eur_usd=format_rate(r.eur_usd_micros), updated_at=iso(r.set_at), updated_by=r.set_by
        )
