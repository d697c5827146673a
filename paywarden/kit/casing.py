"""Request models that take snake_case (canonical) and camelCase (deprecated) keys."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def to_snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


class RequestModel(BaseModel):
    """Base for bodies and queries: camelCase keys are folded to snake_case; snake wins."""

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
        return {**folded, **{k: v for k, v in data.items() if k not in folded}}
