"""`/api/v1/admin/analytics/overview` and `/daily`: the seed's "Server aggregates" of the cards
business and the series its charts draw. Reading only: any operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from paywarden.cards_dashboard import service
from paywarden.cards_dashboard.schemas import DailyQuery, DayOut, OverviewOut, OverviewQuery
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.time import utcnow
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator
from paywarden.treasury.service import set_gauges

router = APIRouter(prefix="/api/v1/admin/analytics", route_class=DbRoute, tags=["admin: analytics"])


async def _issuer(request: Request) -> IssuerAdapter | None:
    return getattr(request.app.state, "issuer", None)


Issuer = Annotated[IssuerAdapter | None, Depends(_issuer)]


@router.get("/overview", response_model=OverviewOut)
async def overview(
    request: Request,
    q: Annotated[OverviewQuery, Query()],
    db: Session,
    issuer: Issuer,
    _: CurrentOperator,
) -> OverviewOut:
    """`period`: `today` (default), `7d`, `30d` or `mtd`, in the report time zone; it sets the
    window of `lifecycle` and `fees.breakdown` (the other figures name their own days). Issuer
    balances are live, refreshed when older than 60 s; on failure the last known ones, with
    their `checked_at` and the `error`. 400 `INVALID_QUERY` on another period."""
    now = utcnow()
    tz = request.app.state.settings.tz
    found = await service.overview(db, issuer, q.period, tz, now)
    set_gauges(request.app.state.metrics, found.issuer, found.estimates)
    return OverviewOut.of(found)


@router.get("/daily", response_model=list[DayOut])
async def daily(
    request: Request, q: Annotated[DailyQuery, Query()], db: Session, _: CurrentOperator
) -> list[DayOut]:
    """One row per day (`days`: 1 to 90, default 30), oldest first, today last, zeros where
    nothing happened: top-ups, spend and fees per currency, approvals, declines (by reason),
    3-D Secure requests and cards created. 400 `INVALID_QUERY` on a bad `days`."""
    tz = request.app.state.settings.tz
    return [DayOut.of(d) for d in await service.daily(db, tz, utcnow(), q.days)]
