"""HTTP for the operator audit log (`GET /api/v1/admin/audit-log`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paywarden.audit import service
from paywarden.audit.repository import AuditFilter
from paywarden.audit.schemas import AuditEntryOut, AuditPage, AuditQuery
from paywarden.kit.time import as_utc, until_inclusive
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: audit"])


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
        since=as_utc(q.from_),
        until=until_inclusive(q.to),
    )
    page = await service.search(db, f, q)
    return AuditPage(data=[AuditEntryOut.of(e) for e in page.items], pagination=page.pagination())
