"""Money as integers in minor units. USDT has 6 decimals; amounts travel as fixed strings."""

from __future__ import annotations

import re
from decimal import Decimal

USDT_DECIMALS = 6
_AMOUNT = re.compile(r"^(0|[1-9]\d*)(\.\d{1,6})?$")


def parse_usdt(text: str) -> int:
    """`"12.5"` → 12_500_000 micro-USDT. Raises ValueError on anything but a plain decimal."""
    if not isinstance(text, str) or not _AMOUNT.match(text):
        raise ValueError("amount must be a decimal string with at most 6 decimals")
    units = Decimal(text).scaleb(USDT_DECIMALS)
    return int(units)


def format_usdt(units: int) -> str:
    """12_500_000 → `"12.500000"`."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**USDT_DECIMALS)
    return f"{sign}{whole}.{frac:06d}"


def percent(numerator: int, denominator: int) -> str:
    """A percentage with two decimals, `"0.00"` when there is nothing to divide."""
    if denominator == 0:
        return "0.00"
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"))
    return f"{value:.2f}"


def format_trx(sun: int) -> str:
    """1_500_000 sun → `"1.500000"` (TRX has 6 decimals too)."""
    return format_usdt(sun)
