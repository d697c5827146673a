"""The issuer float and the operators' estimates as the admin API shows them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from paywarden.kit.casing import RequestModel
from paywarden.kit.money import CENT_DECIMALS, format_units
from paywarden.kit.time import iso
from paywarden.treasury.service import CURRENCIES, Estimates, EstimatesView, IssuerStatus


def _money(cents: int | None) -> str | None:
    return format_units(cents, CENT_DECIMALS) if cents is not None else None


def _days(value: Decimal | None) -> str | None:
    return f"{value.quantize(Decimal('0.01')):.2f}" if value is not None else None


class BalanceOut(BaseModel):
    amount: str | None  # the last known balance ("1234.56"); null: never read
    checked_at: str | None  # when that amount was read
    error: str | None  # the last read's failure; null once a read succeeds


class IssuerOut(BaseModel):
    """`balances` per currency (the last known value, kept with its `checked_at` when a read
    fails, the failure in `error`); `checked_at`: when the issuer was last asked (at most 60 s
    ago when a request or the worker asked); `provider_status` (see
    `treasury.service.provider_status_of`); `error`: the last refresh's failure."""

    balances: dict[str, BalanceOut]
    checked_at: str | None
    provider_status: Literal["ok", "degraded", "down"]
    error: str | None

    @classmethod
    def of(cls, status: IssuerStatus) -> IssuerOut:
        return cls(
            balances={
                c: BalanceOut(amount=_money(b.amount), checked_at=iso(b.checked_at), error=b.error)
                for c, b in status.balances.items()
            },
            checked_at=iso(status.checked_at),
            provider_status=status.provider_status,
            error=status.error,
        )


class EstimatesIn(RequestModel):
    """Any of the fields; the others keep their values (a currency left out of an object too).
    The values are checked by the service, so that a bad one is 400 VALIDATION_ERROR."""

    pending_settlements: Any = None  # {"EUR": "120.00", "USD": "0.00"}
    provider_holds: Any = None  # the same shape
    runway_days_override: Any = None  # whole days, or null to clear

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class EstimateSaveOut(BaseModel):
    """The operators' figures as saved (zeros, `updated_at` null until the first save)."""

    pending_settlements: dict[str, str]
    provider_holds: dict[str, str]
    runway_days_override: int | None
    updated_at: str | None
    updated_by: str | None

    @classmethod
    def of(cls, e: Estimates) -> EstimateSaveOut:
        return cls(
            pending_settlements={c: format_units(e.pending_settlements[c], 2) for c in CURRENCIES},
            provider_holds={c: format_units(e.provider_holds[c], 2) for c in CURRENCIES},
            runway_days_override=e.runway_days_override,
            updated_at=iso(e.updated_at),
            updated_by=e.updated_by,
        )


class EstimatesOut(EstimateSaveOut):
    """The operators' latest saved figures (zeros, `updated_at` null until the first save) and
    the runway: `runway_days` is the override when one is set, else the computed runway
    (`runway_computed_days`, the smaller of `runway_by_currency`); `runway_source` says which
    (`override`, `computed`, null when unknown); `runway_reason` says why the computed runway
    is null ("no outflow in the last 7 days", "no issuer balance"), null when it is known."""

    runway_days: str | None
    runway_computed_days: str | None
    runway_source: Literal["override", "computed"] | None
    runway_reason: str | None
    runway_by_currency: dict[str, str | None]

    @classmethod
    def of(cls, view: EstimatesView) -> EstimatesOut:  # type: ignore[override]
        return cls(
            **EstimateSaveOut.of(view.estimates).model_dump(),
            runway_days=_days(view.runway_days),
            runway_computed_days=_days(view.runway.days),
            runway_source=view.runway_source,
            runway_reason=view.runway.reason,
            runway_by_currency={c: _days(view.runway.by_currency.get(c)) for c in CURRENCIES},
        )


class EstimatesHistory(BaseModel):
    data: list[EstimateSaveOut]
