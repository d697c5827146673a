"""Exact text forms of plan prices, percents and the EUR/USD rate (never a float).

EUR amounts are cents, percents basis points (hundredths of a percent), the rate micro-USD.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from paywarden.kit.money import CENT_DECIMALS, Amount, parse_amount

MAX_CENTS = 100_000_000  # 1,000,000.00 EUR: beyond any sane plan price
BPS_DECIMALS = 2
MAX_BPS = 10_000  # 100 %
RATE_DECIMALS = 6
MIN_RATE_MICROS = 100_000  # 0.1 USD per EUR
MAX_RATE_MICROS = 10_000_000  # 10 USD per EUR


def parse_rate(value: object) -> int:
    """The EUR/USD rate's text as micro-USD per EUR (0.1 to 10, at most 6 decimals)."""
    micros = parse_amount(value, RATE_DECIMALS, what="eur_usd")
    if not MIN_RATE_MICROS <= micros <= MAX_RATE_MICROS:
        raise ValueError("eur_usd must be between 0.1 and 10")
    return micros


# The plans' field types: decimal strings in (the one parser), exact integers out.
Cents = Annotated[int, Amount(CENT_DECIMALS, max_units=MAX_CENTS, example="9.99")]
PositiveCents = Annotated[
    int, Amount(CENT_DECIMALS, positive=True, max_units=MAX_CENTS, example="9.99")
]
Percent = Annotated[int, Amount(BPS_DECIMALS, max_units=MAX_BPS, what="percent", example="1.5")]


def format_cents(cents: int) -> str:
    """999 → `"9.99"`."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_bps(bps: int) -> str:
    """150 → `"1.5"`, 100 → `"1"`, 125 → `"1.25"`."""
    whole, frac = divmod(bps, 100)
    return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")


def rate_decimal(micros: int) -> Decimal:
    return Decimal(micros).scaleb(-RATE_DECIMALS)


def format_rate(micros: int) -> str:
    """1_085_000 → `"1.0850"` (at least 4 decimals, up to 6 when set so)."""
    whole, frac = divmod(micros, 10**RATE_DECIMALS)
    digits = f"{frac:06d}".rstrip("0").ljust(4, "0")
    return f"{whole}.{digits}"
