from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from paywarden.incidents.repository import IncidentRow
from paywarden.kit.time import iso


class IncidentOut(BaseModel):
    id: uuid.UUID
    created_at: str
    event_type: str
    payload: dict[str, Any]
    order_id: uuid.UUID | None
    order_status: str | None
    external_id: str | None
    merchant_name: str | None

    @classmethod
    def of(cls, row: IncidentRow) -> IncidentOut:
        i = row.incident
        return cls(
            id=i.id,
            created_at=iso(i.created_at) or "",
            event_type=i.event_type,
            payload=i.payload,
            order_id=i.order_id,
            order_status=row.order_status,
            external_id=row.external_id,
            merchant_name=row.merchant_name,
        )


class IncidentList(BaseModel):
    data: list[IncidentOut]
