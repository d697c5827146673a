"""Exact text forms of plan prices, percents and the EUR/USD rate (never a float).

EUR amounts are cents, percents basis points (hundredths of a percent), the rate micro-USD.
"""

from __future__ import annotations

import re
from decimal import Decimal

CENT_DECIMALS = 2
MAX_CENTS = 100_000_000  # 1,000,000.00 EUR: beyond any sane plan price
BPS_DECIMALS = 2
MAX_BPS = 10_000  # 100 %
RATE_DECIMALS = 6
MIN_RATE_MICROS = 100_000  # 0.1 USD per EUR
MAX_RATE_MICROS = 10_000_000  # 10 USD per EUR

_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def _scaled(value: object, decimals: int, what: str) -> int:
    """A non-negative decimal string (or integer) as an integer of 10^-decimals units."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'{what} must be a decimal string such as "9.99"')
    text = str(value)
    if text.startswith("-"):
        raise ValueError(f"{what} must not be negative")
    if not _DECIMAL.match(text) or len(text) > 20:
        raise ValueError(f'{what} must be a decimal string such as "9.99"')
    frac = text.partition(".")[2]
    if len(frac) > decimals:
        raise ValueError(f"{what} must have at most {decimals} decimals")
    return int(Decimal(text).scaleb(decimals))


def parse_cents(value: object) -> int:
    cents = _scaled(value, CENT_DECIMALS, "amount")
    if cents > MAX_CENTS:
        raise ValueError("amount must be at most 1000000.00")
    return cents


def parse_bps(value: object) -> int:
    bps = _scaled(value, BPS_DECIMALS, "percent")
    if bps > MAX_BPS:
        raise ValueError("percent must be between 0 and 100")
    return bps


def parse_rate(value: object) -> int:
    micros = _scaled(value, RATE_DECIMALS, "eur_usd")
    if not MIN_RATE_MICROS <= micros <= MAX_RATE_MICROS:
        raise ValueError("eur_usd must be between 0.1 and 10")
    return micros


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
