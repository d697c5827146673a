"""TronGrid sample responses recorded from TRON's public documentation (fixtures/, sources in
fixtures/SOURCES.md) and a field-by-field comparison of an answer's shape with a sample's.

The shape is the key sets and the value types, recursively; values may differ. java-tron writes
protobuf-JSON, which leaves out zero values (0, false, "", empty lists, the first enum value),
so a key of the sample may be missing from an answer when the sample's value there is a zero
value, or when the caller names it `optional`. A key of the answer that the sample lacks is a
difference too, unless named `optional` (samples the publisher trimmed say which keys they cut).

A string's form is part of the shape where it has a fixed size: a sample's hex string of 4, 16,
40, 42, 64 or 130 digits (ref_block_bytes, ref_block_hash, a log's 20-byte address, a "41..."
address, ids, hashes and topics, signatures) wants hex of the same size in the answer, so base58
or "0x..." where java-tron writes hex is a difference. With `visible=True` (an answer asked with
`"visible": true`, the samples were asked without), the sample's addresses want base58check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("fixtures")
PLACEHOLDER = re.compile(r"^<.*>$")  # a published template's "<computed from raw_data>"
HEX = re.compile(r"^[0-9a-f]*$")
FIXED_HEX_SIZES = frozenset({4, 16, 40, 42, 64, 130})
BASE58_ADDRESS = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")


def sample(name: str) -> Any:
    """The recorded sample `fixtures/<name>.json`."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


class ShapeMismatch(AssertionError):
    """An answer whose shape differs from the sample's; the message names the first place."""


def assert_same_shape(
    sample: Any,
    answer: Any,
    *,
    path: str = "$",
    optional: Collection[str] = (),
    visible: bool = False,
) -> None:
    """Raise ShapeMismatch at the first path where `answer`'s shape differs from `sample`'s.

    `optional` names keys that may be missing from either side: a bare key name ("fee") anywhere,
    or a path with list indexes written `[]` ("$.receipt.net_fee", "$.log[].data"). `visible`
    compares an answer asked with `"visible": true` with a sample asked without: where the sample
    has a "41..." address or a log's 20-byte address in hex, the answer has base58check.
    """
    _compare(sample, answer, path, _Rules(frozenset(optional), visible))


@dataclass(frozen=True)
class _Rules:
    optional: frozenset[str]
    visible: bool


def _compare(sample: Any, answer: Any, path: str, rules: _Rules) -> None:
    if isinstance(sample, str) and PLACEHOLDER.match(sample):
        if isinstance(answer, dict | list):
            raise ShapeMismatch(f"{path}: the sample has a scalar, the answer {_kind(answer)}")
        return
    if _kind(sample) != _kind(answer):
        raise ShapeMismatch(
            f"{path}: the sample has {_kind(sample)} {_short(sample)}, "
            f"the answer {_kind(answer)} {_short(answer)}"
        )
    if isinstance(sample, dict):
        _same_keys(sample, answer, path, rules)
    elif isinstance(sample, list):
        _same_items(sample, answer, path, rules)
    elif isinstance(sample, str):
        _same_form(sample, answer, path, rules)


def _same_form(sample: str, answer: str, path: str, rules: _Rules) -> None:
    if rules.visible and _is_address(sample, path):
        if not BASE58_ADDRESS.match(answer):
            raise ShapeMismatch(
                f"{path}: visible asks for a base58check address, the answer has {_short(answer)}"
            )
    elif _fixed_hex(sample) and not _same_hex_size(sample, answer):
        raise ShapeMismatch(
            f"{path}: the sample has {len(sample)} hex digits {_short(sample)}, "
            f"the answer {_short(answer)}"
        )


def _same_keys(sample: dict, answer: dict, path: str, rules: _Rules) -> None:
    for key, value in sample.items():
        where = f"{path}.{key}"
        if key in answer:
            _compare(value, answer[key], where, rules)
        elif not (_is_zero(value) or _named(key, where, rules.optional)):
            raise ShapeMismatch(
                f"{where}: missing from the answer (the sample has {_short(value)})"
            )
    for key in answer.keys() - sample.keys():
        where = f"{path}.{key}"
        if not _named(key, where, rules.optional):
            raise ShapeMismatch(
                f"{where}: in the answer ({_short(answer[key])}) but not in the sample"
            )


def _same_items(sample: list, answer: list, path: str, rules: _Rules) -> None:
    """Each answer item has the shape of one of the sample's items (lengths are values)."""
    if not sample:
        return
    for index, item in enumerate(answer):
        where = f"{path}[{index}]"
        errors: list[ShapeMismatch] = []
        for model in sample:
            try:
                _compare(model, item, where, rules)
                break
            except ShapeMismatch as exc:
                errors.append(exc)
        else:
            raise errors[0]


def _is_address(value: str, path: str) -> bool:
    """A "41..." account address, or an EVM log's 20-byte address (java-tron prints both in
    base58check when asked with visible)."""
    if len(value) == 42 and value.startswith("41") and HEX.match(value):
        return True
    return (
        len(value) == 40
        and bool(HEX.match(value))
        and re.search(r"\.log\[\d+\]\.address$", path) is not None
    )


def _fixed_hex(value: str) -> bool:
    return len(value) in FIXED_HEX_SIZES and bool(HEX.match(value))


def _same_hex_size(sample: str, answer: str) -> bool:
    return len(answer) == len(sample) and bool(HEX.match(answer))


def _named(key: str, path: str, optional: frozenset[str]) -> bool:
    return key in optional or path in optional or re.sub(r"\[\d+\]", "[]", path) in optional


def _is_zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_zero(v) for v in value.values())
    return value in (0, False, "", None) or value == []


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
