"""Request models that take snake_case (canonical) and camelCase (deprecated) keys."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def to_snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in a string, a key or anything nested in `value`."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """Base for bodies and queries: camelCase keys are folded to snake_case; snake wins.

    Text holding a NUL character is refused (400): PostgreSQL cannot store it in text or jsonb,
    so without this the same request would be a 500 there and accepted on SQLite.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _fold_camel_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        folded: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key != (snake := to_snake(key)):
                folded.setdefault(snake, value)
        return {**folded, **data}  # a snake_case key given as such overrides its camelCase twin

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return data
