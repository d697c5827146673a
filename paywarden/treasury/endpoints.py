"""`GET/PUT /api/v1/admin/analytics/estimates`: the seed's "Manual operator estimates — runway,
pending settlements, holds (saved to DB; not from issuer APIs)", with the computed runway.
Reading: any operator; saving: a super admin (as the other figures money depends on)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.time import utcnow
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor, SuperAdmin
from paywarden.treasury import service
from paywarden.treasury.schemas import EstimateSaveOut, EstimatesHistory, EstimatesIn, EstimatesOut

router = APIRouter(prefix="/api/v1/admin/analytics", route_class=DbRoute, tags=["admin: analytics"])


async def _optional_issuer(request: Request) -> IssuerAdapter | None:
    return getattr(request.app.state, "issuer", None)


# The app's issuer adapter (calls counted), None with ISSUER=none.
OptionalIssuer = Annotated[IssuerAdapter | None, Depends(_optional_issuer)]


async def _view(request: Request, db: Session, issuer: IssuerAdapter | None) -> EstimatesOut:
    now = utcnow()
    status = await service.issuer_status(db, issuer, now)
    view = await service.estimates_view(db, status, request.app.state.settings.tz, now)
    service.set_gauges(request.app.state.metrics, status, view)
    return EstimatesOut.of(view)


@router.get("/estimates", response_model=EstimatesOut)
async def get_estimates(
    request: Request, db: Session, issuer: OptionalIssuer, _: CurrentOperator
) -> EstimatesOut:
    """The latest saved estimates (zeros and `updated_at` null before the first save), who saved
    them and when, and the runway: (issuer balance - pending settlements - holds) ÷ the average
    daily card spend of the last 7 days, per currency, the smaller one, rounded down to 0.01
    day; the override when one is set. The issuer balance is at most 60 s old."""
    return await _view(request, db, issuer)


@router.put("/estimates", response_model=EstimatesOut)
async def put_estimates(
    body: EstimatesIn,
    request: Request,
    db: Session,
    issuer: OptionalIssuer,
    _: SuperAdmin,
    actor: OperatorActor,
) -> EstimatesOut:
    """Save `pending_settlements` and `provider_holds` (`{"EUR": "120.00", "USD": "0.00"}`:
    non-negative, at most 2 decimals; a currency left out keeps its value) and
    `runway_days_override` (whole days 0-3650, null clears it); any of them, the others kept.
    Each save is a new row (history) and an audit entry `analytics.estimates.update` with the
    old and new figures. A bad value: 400 VALIDATION_ERROR and nothing saved."""
    await service.save_estimates(db, body.changes(), actor)
    return await _view(request, db, issuer)


@router.get("/estimates/history", response_model=EstimatesHistory)
async def estimates_history(db: Session, _: CurrentOperator) -> EstimatesHistory:
    """The last 50 saves, newest first."""
    saves = await service.estimates_history(db)
    return EstimatesHistory(data=[EstimateSaveOut.of(e) for e in saves])
