"""Money as integers in minor units. USDT has 6 decimals; amounts travel as fixed strings.

`parse_amount` is the one reader of money and rate text for every API, form and setting. Its
grammar is ASCII only: `re`'s `\\d`, `int()` and `Decimal()` all accept other scripts' digits
(`"١٢"` is 12 to them), so none of them sees the text before it has matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

USDT_DECIMALS = 6
CENT_DECIMALS = 2
# Longer text is refused before anything else looks at it; no valid amount comes close.
MAX_AMOUNT_CHARS = 32
# Every amount lands in a BIGINT column.
MAX_UNITS = 2**63 - 1
# Explicit [0-9] and fullmatch: no Unicode digits, no trailing newline slipping past `$`.
_GRAMMAR = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)


def parse_amount(
    text: object,
    decimals: int,
    *,
    allow_negative: bool = False,
    max_units: int | None = None,
    what: str = "amount",
) -> int:
    """`"12.5"` with 6 decimals → 12_500_000. Raises ValueError on anything but plain text of
    ASCII digits with one optional dot and at most `decimals` decimals: no exponent, no
    whitespace, underscores, leading zeros or '+', a '-' only with `allow_negative`, at most
    `max_units` minor units (in absolute value)."""
    if not isinstance(text, str):
        raise ValueError(f'{what} must be a decimal string such as "12.50"')
    if len(text) > MAX_AMOUNT_CHARS:
        raise ValueError(f"{what} must be at most {MAX_AMOUNT_CHARS} characters")
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise ValueError(
            f'{what} must be a decimal string such as "12.50" (digits 0-9 and one dot)'
        )
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if sign and not allow_negative:
        raise ValueError(f"{what} must not be negative")
    if len(frac) > decimals:
        raise ValueError(f"{what} must have at most {decimals} decimals")
    units = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if decimals else 0)
    limit = MAX_UNITS if max_units is None else min(max_units, MAX_UNITS)
    if units > limit:
        raise ValueError(f"{what} must be at most {format_units(limit, decimals)}")
    return -units if sign else units


def parse_rate(text: object, places: int, *, what: str = "rate") -> Decimal:
    """A non-negative rate with at most `places` decimals, exactly, by the amounts' grammar."""
    return Decimal(parse_amount(text, places, what=what)).scaleb(-places)


def format_units(units: int, decimals: int) -> str:
    """12_500_000 with 6 decimals → `"12.500000"`; the inverse of `parse_amount`."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


@dataclass(frozen=True)
class Amount:
    """Pydantic metadata for a money or rate field, `Annotated[int, Amount(2, positive=True)]`:
    the text in, through `parse_amount`, integer minor units out (above zero when `positive`);
    documented as a string with its pattern."""

    decimals: int
    positive: bool = False
    allow_negative: bool = False
    max_units: int | None = None
    what: str = "amount"
    example: str = "12.50"

    def parse(self, value: object) -> int:
        units = parse_amount(
            value,
            self.decimals,
            allow_negative=self.allow_negative,
            max_units=self.max_units,
            what=self.what,
        )
        if self.positive and units <= 0:
            raise ValueError(f"{self.what} must be greater than 0")
        return units

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        # A plain validator: nothing of pydantic's own int or str coercion runs first.
        return core_schema.no_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(
        self, schema: Any, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        sign = "-?" if self.allow_negative else ""
        frac = rf"(\.[0-9]{{1,{self.decimals}}})?" if self.decimals else ""
        return {
            "type": "string",
            "pattern": rf"^{sign}(0|[1-9][0-9]*){frac}$",
            "maxLength": MAX_AMOUNT_CHARS,
            "examples": [self.example],
        }


def parse_usdt(text: object) -> int:
    """`"12.5"` → 12_500_000 micro-USDT (`parse_amount` with 6 decimals)."""
    return parse_amount(text, USDT_DECIMALS)


def format_usdt(units: int) -> str:
    """12_500_000 → `"12.500000"`."""
    return format_units(units, USDT_DECIMALS)


def percent(numerator: int, denominator: int) -> str:
    """A percentage with two decimals, `"0.00"` when there is nothing to divide."""
    if denominator == 0:
        return "0.00"
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"))
    return f"{value:.2f}"


def format_trx(sun: int) -> str:
    """1_500_000 sun → `"1.500000"` (TRX has 6 decimals too)."""
    return format_usdt(sun)
