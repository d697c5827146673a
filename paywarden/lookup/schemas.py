from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from paywarden.kit.casing import RequestModel
from paywarden.lookup.service import Found


class LookupQuery(RequestModel):
    id: str = Field(max_length=320)


class LookupResult(BaseModel):
    type: Literal[
        "client", "web_user", "order", "ledger_transaction", "card", "card_transaction", "topup"
    ]
    id: uuid.UUID
    label: str
    url: str | None

    @classmethod
    def of(cls, f: Found) -> LookupResult:
        return cls(type=f.type, id=f.id, label=f.label, url=f.url)  # type: ignore[arg-type]


class LookupOut(BaseModel):
    results: list[LookupResult]
