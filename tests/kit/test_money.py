"""The one amount parser (kit.money): ASCII digits, one optional dot, at most the currency's
decimals, no exponent, sign, whitespace, underscore or leading zero; the formatter's inverse."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from paywarden.kit.money import (
    MAX_AMOUNT_CHARS,
    MAX_UNITS,
    Amount,
    format_units,
    format_usdt,
    parse_amount,
    parse_rate,
    parse_usdt,
)

DECIMALS = st.sampled_from([0, 2, 6])
# Every decimal digit Unicode knows but 0-9: what `\d`, int() and Decimal() take as digits.
OTHER_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: c not in "0123456789")


@st.composite
def valid(draw: st.DrawFn, decimals: int | None = None) -> tuple[str, int]:
    """A valid amount's text and its decimals."""
    d = draw(DECIMALS) if decimals is None else decimals
    whole = draw(st.from_regex(r"0|[1-9][0-9]{0,11}", fullmatch=True))
    frac = draw(st.from_regex(rf"[0-9]{{1,{d}}}", fullmatch=True)) if d else ""
    return (f"{whole}.{frac}" if frac and draw(st.booleans()) else whole), d


def _refused(text: object, decimals: int, **kw: object) -> bool:
    try:
        parse_amount(text, decimals, **kw)  # type: ignore[arg-type]
    except ValueError:
        return True
    return False


@given(st.integers(min_value=0, max_value=MAX_UNITS), DECIMALS)
def test_the_formatter_round_trips(units: int, decimals: int) -> None:
    assert parse_amount(format_units(units, decimals), decimals) == units
    assert parse_amount(format_units(-units, decimals), decimals, allow_negative=True) == -units


@given(valid())
def test_valid_text_reads_as_its_exact_value(case: tuple[str, int]) -> None:
    text, decimals = case
    units = parse_amount(text, decimals)
    assert units == int(Decimal(text).scaleb(decimals))  # Decimal is safe on ASCII text
    assert Decimal(format_units(units, decimals)) == Decimal(text)
    assert parse_amount(format_units(units, decimals), decimals) == units
    assert parse_rate(text, decimals) == Decimal(text)


@given(valid(), OTHER_DIGITS, st.data())
def test_any_non_ascii_digit_is_refused(
    case: tuple[str, int], digit: str, data: st.DataObject
) -> None:
    text, decimals = case
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    assert _refused(text[:at] + digit + text[at:], decimals)
    # The same value in another script's digits (e.g. Arabic-Indic for "12.5") too.
    zero = ord(digit) - unicodedata.digit(digit)
    foreign = "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)
    assert _refused(foreign, decimals)
    assert _refused(foreign, decimals, allow_negative=True)


@given(valid(), st.sampled_from(["e", "E"]), st.from_regex(r"[+-]?[0-9]{1,3}", fullmatch=True))
def test_an_exponent_is_refused(case: tuple[str, int], e: str, exponent: str) -> None:
    text, decimals = case
    assert _refused(f"{text}{e}{exponent}", decimals, allow_negative=True)


@given(valid())
def test_a_sign_is_refused_unless_allowed(case: tuple[str, int]) -> None:
    text, decimals = case
    assert _refused(f"+{text}", decimals, allow_negative=True)
    assert _refused(f"-{text}", decimals)
    assert parse_amount(f"-{text}", decimals, allow_negative=True) == -parse_amount(text, decimals)
    assert _refused(f"--{text}", decimals, allow_negative=True)


@given(valid(), st.data())
def test_an_extra_dot_is_refused(case: tuple[str, int], data: st.DataObject) -> None:
    text, decimals = case
    dotted = text if "." in text else f"{text}.0"
    at = data.draw(st.integers(min_value=0, max_value=len(dotted)))
    assert _refused(dotted[:at] + "." + dotted[at:], decimals)


@given(valid(), st.from_regex(r"[0-9]{1,6}", fullmatch=True))
def test_too_many_decimals_are_refused(case: tuple[str, int], more: str) -> None:
    text, decimals = case
    frac = text.partition(".")[2].ljust(decimals, "0")
    assert _refused(f"{text.partition('.')[0]}.{frac}{more}", decimals)


@given(valid(), st.sampled_from([" ", "\t", "\n", "_", ",", "\u00a0", "\u2009"]), st.data())
def test_whitespace_and_separators_are_refused(
    case: tuple[str, int], junk: str, data: st.DataObject
) -> None:
    text, decimals = case
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    assert _refused(text[:at] + junk + text[at:], decimals)


_GRAMMAR = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", re.ASCII)


@given(st.text(max_size=40), DECIMALS)
def test_any_text_is_either_the_grammar_or_a_value_error(text: str, decimals: int) -> None:
    try:
        units = parse_amount(text, decimals, allow_negative=True)
    except ValueError:
        return
    assert _GRAMMAR.fullmatch(text)
    assert len(text) <= MAX_AMOUNT_CHARS
    assert units == int(Decimal(text).scaleb(decimals))


@pytest.mark.parametrize(
    "text",
    [
        *("", ".", "1.", ".5", "01", "00.5", "1e3", "1E3", "+1", "1_000", "1,5", " 1", "1 ", "1\n"),
        *("\uff11\uff12", "\u0661\u0662", "\u0661\u0662.\u0665", "\u0967", "NaN", "0x10"),
    ],
)
def test_examples_refused(text: str) -> None:
    assert _refused(text, 6, allow_negative=True)


@pytest.mark.parametrize("value", [12, 12.5, None, True, Decimal("12.5"), b"12", ["12"]])
def test_only_text_is_read(value: object) -> None:
    assert _refused(value, 2)


def test_bounds() -> None:
    assert parse_amount("1.5", 2, max_units=150) == 150
    assert _refused("1.51", 2, max_units=150)
    assert _refused("-1.51", 2, max_units=150, allow_negative=True)
    assert _refused("9" * 20, 0)  # past a BIGINT
    assert _refused("1" * (MAX_AMOUNT_CHARS + 1), 0)
    assert parse_usdt("12.5") == 12_500_000
    assert format_usdt(12_500_000) == "12.500000"
    assert parse_amount("0", 2) == 0


class _Body(BaseModel):
    price: Annotated[int, Amount(2, positive=True, max_units=10_000)]


def test_the_pydantic_type_uses_the_parser() -> None:
    assert _Body.model_validate({"price": "99.9"}).price == 9_990
    for bad in ("\uff19\uff19", "0", "100.01", 99, "99.999", "1e2"):
        with pytest.raises(ValidationError):
            _Body.model_validate({"price": bad})
    schema = _Body.model_json_schema()["properties"]["price"]
    assert schema["type"] == "string"
    assert schema["pattern"] == r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$"
