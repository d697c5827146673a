from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.models import AuditEntry


class AuditQuery(PageQuery):
    operator_id: uuid.UUID | None = None
    action: str | None = Field(default=None, max_length=64)
    target_type: str | None = Field(default=None, max_length=64)
    target_id: str | None = Field(default=None, max_length=64)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    created_at: str
    operator_id: uuid.UUID | None
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls(
            id=e.id,
            created_at=iso(e.created_at) or "",
            operator_id=e.operator_id,
            actor=e.actor,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            details=e.details,
            ip=e.ip,
            user_agent=e.user_agent,
        )


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    pagination: Pagination
