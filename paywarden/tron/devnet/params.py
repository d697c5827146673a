"""Reading java-tron style requests: parameters from a JSON body or the query string, addresses in
either form, and java-tron's error answer for a request it cannot read."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from paywarden.tron import crypto

ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"


class JavaError(Exception):
    """Rendered as java-tron does: 200 and {"Error": "class <type> : <message>"}."""

    def __init__(self, java_type: str, message: str) -> None:
        super().__init__(message)
        self.text = f"class {java_type} : {message}"


async def read(request: Request) -> dict[str, Any]:
    """java-tron takes a JSON body on POST and query parameters on GET; accept both."""
    values: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body.strip():
        try:
            parsed = await request.json()
        except ValueError as exc:
            raise JavaError("org.tron.core.exception.BadItemException", "invalid JSON") from exc
        if not isinstance(parsed, dict):
            raise JavaError(ILLEGAL_ARGUMENT, "body must be a JSON object")
        values.update(parsed)
    return values


def is_visible(values: dict[str, Any]) -> bool:
    """java-tron's `visible`: JSON true, or "true" in any case (a query parameter)."""
    flag = values.get("visible")
    return flag is True or (isinstance(flag, str) and flag.lower() == "true")


def address(values: dict[str, Any], name: str) -> str:
    """The base58 form of the address parameter `name` (given as base58 or "41..." hex)."""
    value = values.get(name)
    if not crypto.is_address(value):
        raise JavaError(ILLEGAL_ARGUMENT, f"Invalid {name}")
    return crypto.normalize(str(value))


def integer(values: dict[str, Any], name: str, default: int | None = None) -> int:
    value = values.get(name, default)
    if isinstance(value, bool) or value is None:
        raise JavaError(ILLEGAL_ARGUMENT, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise JavaError(ILLEGAL_ARGUMENT, f"{name} must be an integer") from exc


def call_data(values: dict[str, Any]) -> str:
    """The call data: `data`, or keccak256(function_selector)[:4] + `parameter`."""
    if values.get("data"):
        return str(values["data"]).removeprefix("0x")
    selector = values.get("function_selector")
    if not isinstance(selector, str) or not selector:
        raise JavaError(ILLEGAL_ARGUMENT, "function_selector is required")
    parameter = str(values.get("parameter") or "")
    return crypto.keccak256(selector.replace(" ", "").encode())[:4].hex() + parameter
