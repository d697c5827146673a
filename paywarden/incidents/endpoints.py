"""`GET /api/v1/admin/incidents`: the 10 latest webhook_failed, sweep_failed and
issuer_float_low events."""

from __future__ import annotations

from fastapi import APIRouter

from paywarden.incidents import service
from paywarden.incidents.schemas import IncidentList, IncidentOut
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


@router.get("/incidents", response_model=IncidentList)
async def incidents(db: Session, _: CurrentOperator) -> IncidentList:
    return IncidentList(data=[IncidentOut.of(r) for r in await service.latest(db)])
