"""The protobuf wire format of a TRON transaction's raw_data, for the contracts PayWarden uses.

A transaction's id is sha256 of these bytes, so the devnet and the sweeper derive them instead of
trusting a client's JSON: `encode_raw` turns TronGrid's raw_data JSON into the canonical bytes
(what java-tron and tronpy produce: fields in number order, proto3 defaults left out) and
`decode_raw` turns `raw_data_hex` back into that JSON. Only the messages below are known; any
other field or contract type is refused, so nothing a signature covers can go unread.
Field numbers follow java-tron's protocol/Tron.proto and contract/*.proto.
"""

from __future__ import annotations

from typing import Any

from paywarden.tron import crypto


class ProtoError(ValueError):
    """raw_data or raw_data_hex that the devnet cannot read (or that says something else)."""


# Kinds of fields: how a value travels in JSON and on the wire.
ADDRESS, BYTES, INT, BOOL, STRING, RESOURCE = "address", "bytes", "int", "bool", "str", "resource"

RESOURCE_CODES = {"BANDWIDTH": 0, "ENERGY": 1, "TRON_POWER": 2}

CONTRACTS: dict[str, tuple[int, list[tuple[int, str, str]]]] = {
    "TransferContract": (
        1,
        [(1, "owner_address", ADDRESS), (2, "to_address", ADDRESS), (3, "amount", INT)],
    ),
    "TriggerSmartContract": (
        31,
        [
            (1, "owner_address", ADDRESS),
            (2, "contract_address", ADDRESS),
            (3, "call_value", INT),
            (4, "data", BYTES),
            (5, "call_token_value", INT),
            (6, "token_id", INT),
        ],
    ),
    "FreezeBalanceV2Contract": (
        54,
        [(1, "owner_address", ADDRESS), (2, "frozen_balance", INT), (3, "resource", RESOURCE)],
    ),
    "UnfreezeBalanceV2Contract": (
        55,
        [(1, "owner_address", ADDRESS), (2, "unfreeze_balance", INT), (3, "resource", RESOURCE)],
    ),
    "DelegateResourceContract": (
        57,
        [
            (1, "owner_address", ADDRESS),
            (2, "resource", RESOURCE),
            (3, "balance", INT),
            (4, "receiver_address", ADDRESS),
            (5, "lock", BOOL),
            (6, "lock_period", INT),
        ],
    ),
    "UnDelegateResourceContract": (
        58,
        [
            (1, "owner_address", ADDRESS),
            (2, "resource", RESOURCE),
            (3, "balance", INT),
            (4, "receiver_address", ADDRESS),
        ],
    ),
}
CONTRACT_NAMES = {number: name for name, (number, _) in CONTRACTS.items()}
TYPE_URL_PREFIX = "type.googleapis.com/protocol."

# Transaction.raw; field 11 (contract) is handled by hand.
RAW_FIELDS = [
    (1, "ref_block_bytes", BYTES),
    (3, "ref_block_num", INT),
    (4, "ref_block_hash", BYTES),
    (8, "expiration", INT),
    (10, "data", BYTES),
    (14, "timestamp", INT),
    (18, "fee_limit", INT),
]
RAW_CONTRACT_FIELD = 11


# --- wire primitives ---------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 on the wire: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if result >= 1 << 63:
        result -= 1 << 64
    return result, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs in wire order; only varint and length-delimited exist here."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
            out.append((number, value))
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            if length < 0 or pos + length > len(data):
                raise ProtoError("truncated field")
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise ProtoError(f"unsupported wire type {wire_type}")
    return out


# --- JSON <-> wire for flat messages -------------------------------------------------------------


def _hex_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise ProtoError(f"{name} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise ProtoError(f"{name} is not hex") from exc


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtoError(f"{name} must be an integer")
    if not -(1 << 63) <= value < 1 << 63:
        raise ProtoError(f"{name} is out of int64 range")
    return value


def _encode_value(number: int, name: str, kind: str, value: Any) -> bytes:
    """One field; proto3 leaves default values (0, empty, false) out."""
    if kind in (INT, BOOL, RESOURCE):
        if kind == BOOL:
            if not isinstance(value, bool):
                raise ProtoError(f"{name} must be a boolean")
            number_value = int(value)
        elif kind == RESOURCE:
            if value not in RESOURCE_CODES:
                raise ProtoError(f"{name} must be one of {', '.join(RESOURCE_CODES)}")
            number_value = RESOURCE_CODES[value]
        else:
            number_value = _int(value, name)
        return _key(number, 0) + _varint(number_value) if number_value else b""
    if kind == ADDRESS:
        if not isinstance(value, str):
            raise ProtoError(f"{name} must be an address")
        try:
            payload = crypto.to_raw(value)
        except crypto.InvalidAddress as exc:
            raise ProtoError(str(exc)) from exc
    elif kind == STRING:
        payload = str(value).encode()
    else:
        payload = _hex_bytes(value, name)
    return _length_delimited(number, payload) if payload else b""


def _encode_message(fields: list[tuple[int, str, str]], values: dict[str, Any], what: str) -> bytes:
    if not isinstance(values, dict):
        raise ProtoError(f"{what} must be an object")
    known = {name for _, name, _ in fields}
    unknown = set(values) - known
    if unknown:
        raise ProtoError(f"{what} has unknown fields: {', '.join(sorted(unknown))}")
    return b"".join(
        _encode_value(number, name, kind, values[name])
        for number, name, kind in fields
        if name in values and values[name] is not None
    )


def _decode_message(
    fields: list[tuple[int, str, str]], data: bytes, what: str, *, visible: bool
) -> dict[str, Any]:
    by_number = {number: (name, kind) for number, name, kind in fields}
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in by_number:
            raise ProtoError(f"{what} has unknown field {number}")
        name, kind = by_number[number]
        if name in out:
            raise ProtoError(f"{what} repeats field {name}")
        is_varint = isinstance(value, int)
        if is_varint != (kind in (INT, BOOL, RESOURCE)):
            raise ProtoError(f"{what}.{name} has the wrong wire type")
        if kind == INT:
            out[name] = value
        elif kind == BOOL:
            out[name] = bool(value)
        elif kind == RESOURCE:
            names = {code: text for text, code in RESOURCE_CODES.items()}
            if value not in names:
                raise ProtoError(f"{what}.{name} is not a known resource")
            out[name] = names[value]
        else:
            assert isinstance(value, bytes)
            if kind == ADDRESS:
                if len(value) != 21 or value[0] != crypto.ADDRESS_PREFIX:
                    raise ProtoError(f"{what}.{name} is not an address")
                out[name] = crypto.to_base58(value) if visible else value.hex()
            elif kind == STRING:
                out[name] = value.decode()
            else:
                out[name] = value.hex()
    return out


# --- Transaction.raw ------------------------------------------------------------------------------


def _encode_contract(contract: Any) -> bytes:
    if not isinstance(contract, dict):
        raise ProtoError("contract must be an object")
    unknown = set(contract) - {"type", "parameter", "Permission_id"}
    if unknown:
        raise ProtoError(f"contract has unknown fields: {', '.join(sorted(unknown))}")
    type_name = contract.get("type")
    if type_name not in CONTRACTS:
        raise ProtoError(f"contract type {type_name!r} is not supported by the devnet")
    number, fields = CONTRACTS[type_name]
    parameter = contract.get("parameter")
    if not isinstance(parameter, dict) or set(parameter) - {"value", "type_url"}:
        raise ProtoError("contract.parameter must be {value, type_url}")
    type_url = parameter.get("type_url", TYPE_URL_PREFIX + type_name)
    if type_url != TYPE_URL_PREFIX + type_name:
        raise ProtoError("contract.parameter.type_url does not match contract.type")
    value = _encode_message(fields, parameter.get("value"), type_name)
    any_bytes = _length_delimited(1, type_url.encode()) + _length_delimited(2, value)
    out = _key(1, 0) + _varint(number) + _length_delimited(2, any_bytes)
    permission_id = contract.get("Permission_id", 0)
    if permission_id:
        out += _key(5, 0) + _varint(_int(permission_id, "Permission_id"))
    return out


def encode_raw(raw_data: Any) -> bytes:
    """The canonical protobuf bytes of a raw_data JSON object."""
    if not isinstance(raw_data, dict):
        raise ProtoError("raw_data must be an object")
    known = {name for _, name, _ in RAW_FIELDS} | {"contract"}
    unknown = set(raw_data) - known
    if unknown:
        raise ProtoError(f"raw_data has unknown fields: {', '.join(sorted(unknown))}")
    contracts = raw_data.get("contract")
    if not isinstance(contracts, list) or len(contracts) != 1:
        raise ProtoError("raw_data.contract must hold exactly one contract")
    parts: dict[int, bytes] = {
        number: _encode_value(number, name, kind, raw_data[name])
        for number, name, kind in RAW_FIELDS
        if raw_data.get(name) is not None
    }
    parts[RAW_CONTRACT_FIELD] = _length_delimited(
        RAW_CONTRACT_FIELD, _encode_contract(contracts[0])
    )
    return b"".join(parts[number] for number in sorted(parts))


def _decode_contract(data: bytes, *, visible: bool) -> dict[str, Any]:
    type_number: int | None = None
    parameter: bytes | None = None
    permission_id = 0
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            type_number = value
        elif number == 2 and isinstance(value, bytes):
            parameter = value
        elif number == 5 and isinstance(value, int):
            permission_id = value
        else:
            raise ProtoError(f"contract has unsupported field {number}")
    if type_number not in CONTRACT_NAMES or parameter is None:
        raise ProtoError(f"contract type {type_number} is not supported by the devnet")
    type_name = CONTRACT_NAMES[type_number]
    type_url: str | None = None
    value_bytes = b""
    for number, value in _fields(parameter):
        if number == 1 and isinstance(value, bytes):
            type_url = value.decode()
        elif number == 2 and isinstance(value, bytes):
            value_bytes = value
        else:
            raise ProtoError("contract.parameter is not a protobuf Any")
    if type_url != TYPE_URL_PREFIX + type_name:
        raise ProtoError("contract.parameter.type_url does not match contract.type")
    fields = CONTRACTS[type_name][1]
    out: dict[str, Any] = {
        "parameter": {
            "value": _decode_message(fields, value_bytes, type_name, visible=visible),
            "type_url": type_url,
        },
        "type": type_name,
    }
    if permission_id:
        out["Permission_id"] = permission_id
    return out


def decode_raw(data: bytes, *, visible: bool = False) -> dict[str, Any]:
    """raw_data JSON (as java-tron prints it) from protobuf bytes; addresses hex unless visible."""
    contract_bytes: list[bytes] = []
    rest = bytearray()
    for number, value in _fields(data):
        if number == RAW_CONTRACT_FIELD and isinstance(value, bytes):
            contract_bytes.append(value)
        elif number == RAW_CONTRACT_FIELD:
            raise ProtoError("raw_data.contract has the wrong wire type")
        elif isinstance(value, int):
            rest += _key(number, 0) + _varint(value)
        else:
            rest += _length_delimited(number, value)
    if len(contract_bytes) != 1:
        raise ProtoError("raw_data must hold exactly one contract")
    out = _decode_message(RAW_FIELDS, bytes(rest), "raw_data", visible=visible)
    out["contract"] = [_decode_contract(contract_bytes[0], visible=visible)]
    return out


def encode_transaction(raw: bytes, signatures: list[bytes]) -> bytes:
    """A whole Transaction message: its size is the bandwidth a broadcast uses."""
    return _length_delimited(1, raw) + b"".join(_length_delimited(2, s) for s in signatures)
