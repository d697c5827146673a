"""HTTP for the operator audit log (`GET /api/v1/admin/audit-log`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from paywarden.audit import service
from paywarden.audit.repository import AuditFilter
from paywarden.audit.schemas import AuditEntryOut, AuditPage, AuditQuery
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: audit"])


def _utc(value: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, as every time in the API is.
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


def _through_millisecond(value: datetime | None) -> datetime | None:
    # Times are shown to the millisecond, so `to=<a shown time>` includes that whole millisecond.
    if value is None or value.microsecond % 1000:
        return value
    return value + timedelta(microseconds=999)


@router.get("/audit-log", response_model=AuditPage)
async def audit_log(
    q: Annotated[AuditQuery, Query()], db: Session, _: CurrentOperator
) -> AuditPage:
    """Operator actions, newest first; every filter is optional."""
    f = AuditFilter(
        operator_id=q.operator_id,
        action=q.action,
        target_type=q.target_type,
        target_id=q.target_id,
        since=_utc(q.from_),
        until=_through_millisecond(_utc(q.to)),
    )
    page = await service.search(db, f, q)
    return AuditPage(data=[AuditEntryOut.of(e) for e in page.items], pagination=page.pagination())
