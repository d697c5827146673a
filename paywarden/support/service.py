"""Support settings: one row, the defaults until an operator saves them; every save audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.support import repository as repo
from paywarden.support.errors import EmptyUpdate

DEFAULTS: dict[str, Any] = {
    "contact": "",
    "working_hours": "",
    "average_reply_time": "",
    "reply_time_templates": ["~5 minutes", "~15 minutes", "~1 hour", "within 24 hours"],
}
FIELDS = tuple(DEFAULTS)


@dataclass(frozen=True)
class Support:
    contact: str
    working_hours: str
    average_reply_time: str
    reply_time_templates: list[str]
    updated_at: datetime | None  # None while never saved: these are the defaults
    updated_by: str | None


async def current(db: AsyncSession) -> Support:
    row = await repo.get(db)
    if row is None:
        return Support(
            contact=DEFAULTS["contact"],
            working_hours=DEFAULTS["working_hours"],
            average_reply_time=DEFAULTS["average_reply_time"],
            reply_time_templates=list(DEFAULTS["reply_time_templates"]),
            updated_at=None,
            updated_by=None,
        )
    return Support(
        contact=row.contact,
        working_hours=row.working_hours,
        average_reply_time=row.average_reply_time,
        reply_time_templates=list(row.reply_time_templates),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def update(db: AsyncSession, changes: dict[str, Any], actor: Actor) -> Support:
    """Set the given fields (the first save starts from the defaults)."""
    if not changes:
        raise EmptyUpdate()
    row = await repo.get_for_update(db, DEFAULTS)
    before = {field: getattr(row, field) for field in FIELDS}
    for field, value in changes.items():
        setattr(row, field, value)
    row.operator_id, row.updated_by = actor.operator_id, actor.label
    await db.flush()
    details = {
        field: {"from": before[field], "to": value}
        for field, value in changes.items()
        if before[field] != value
    }
    audit.record(
        db,
        actor,
        "support_settings.update",
        target_type="support_settings",
        target_id=row.id,
        details=details,
    )
    return await current(db)
