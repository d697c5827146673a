"""Admin API for plans (`/api/v1/admin/plans`) and the EUR/USD rate (`/api/v1/admin/fx-rate`).

Any operator reads; only a super_admin changes prices or the rate (they are what clients pay).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor, SuperAdmin
from paywarden.plans import service
from paywarden.plans.schemas import (
    FxRateIn,
    FxRateOut,
    PlanCreateIn,
    PlanList,
    PlanOut,
    PlanUpdateIn,
)

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: plans"])


@router.get("/plans", response_model=PlanList)
async def list_plans(db: Session, _: CurrentOperator) -> PlanList:
    """Every plan, archived and hidden ones included, by `sort_order`."""
    return PlanList(data=[PlanOut.of(p) for p in await service.list_all(db)])


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
async def create_plan(
    body: PlanCreateIn, db: Session, _: SuperAdmin, actor: OperatorActor
) -> PlanOut:
    """`is_default: true` makes it the default, clearing the previous default's flag."""
    return PlanOut.of(await service.create(db, body.columns(), actor))


@router.put("/plans/{plan_id}", response_model=PlanOut)
async def update_plan(
    plan_id: uuid.UUID, body: PlanUpdateIn, db: Session, _: SuperAdmin, actor: OperatorActor
) -> PlanOut:
    """Any of the fields; archiving keeps subscribers on the plan. The default plan cannot be
    archived (409 `INVALID_STATE`) until another plan is the default."""
    return PlanOut.of(await service.update(db, plan_id, body.columns(), actor))


@router.get("/fx-rate", response_model=FxRateOut)
async def get_fx_rate(db: Session, _: CurrentOperator) -> FxRateOut:
    """The USD price of one EUR; `eur_usd` is null until an operator sets one."""
    return FxRateOut.of(await service.rate(db))


@router.put("/fx-rate", response_model=FxRateOut)
async def put_fx_rate(
    body: FxRateIn, db: Session, _: SuperAdmin, actor: OperatorActor
) -> FxRateOut:
    return FxRateOut.of(await service.set_rate(db, body.eur_usd, actor))
