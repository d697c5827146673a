"""The seed's admin API for orders and the dashboard (`/api/v1/admin/...`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import ValidationError

from paywarden.kit.errors import ValidationFailed
from paywarden.kit.time import as_utc, until_inclusive
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor
from paywarden.operators.schemas import Ok
from paywarden.orders import dashboard, service
from paywarden.orders.filters import OrderFilter
from paywarden.orders.schemas import (
    AdminOrderDetail,
    AdminOrderFilterQuery,
    AdminOrderOut,
    AdminOrderPage,
    RetryWebhookIn,
)
from paywarden.orders.stats_schemas import DailyRevenue, StatsOut
from paywarden.webhooks.service import check_destination

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


@router.get("/stats", response_model=StatsOut)
async def dashboard_stats(request: Request, db: Session, _: CurrentOperator) -> StatsOut:
    return await dashboard.summary(db, request.app.state.gateway)


@router.get("/stats/daily", response_model=list[DailyRevenue])
async def daily_revenue(request: Request, db: Session, _: CurrentOperator) -> list[DailyRevenue]:
    """Fixed 7-day window ending today (report time zone); days with nothing show zero."""
    return await dashboard.daily_revenue(db, request.app.state.gateway)


@router.get("/orders", response_model=AdminOrderPage)
async def list_orders(
    q: Annotated[AdminOrderFilterQuery, Query()], db: Session, _: CurrentOperator
) -> AdminOrderPage:
    f = OrderFilter(
        merchant_id=q.merchant_id,
        status=q.status,
        since=as_utc(q.from_),
        until=until_inclusive(q.to),
    )
    page = await service.search(db, f, q)
    return AdminOrderPage(
        data=[AdminOrderOut.of(o, name) for o, name in page.items], pagination=page.pagination()
    )


@router.get("/orders/{order_id}", response_model=AdminOrderDetail)
async def order_detail(
    order_id: uuid.UUID, request: Request, db: Session, _: CurrentOperator
) -> AdminOrderDetail:
    state = request.app.state
    return await dashboard.order_detail(db, order_id, state.settings, state.network)


@router.post("/orders/{order_id}/retry-webhook", response_model=Ok)
async def retry_webhook(
    order_id: uuid.UUID,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Ok:
    """Queue the webhook again (`callback_failed` orders); `callback_url` overrides it once."""
    try:
        parsed = RetryWebhookIn.model_validate(body or {})
    except ValidationError as exc:
        raise ValidationFailed("callback_url must be a valid http(s) URL") from exc
    policy = request.app.state.gateway.webhooks
    await check_destination(policy, "callback_url", parsed.callback_url)
    await service.request_webhook_retry(
        db,
        order_id,
        parsed.callback_url,
        actor,
        base_url=request.app.state.settings.public_base_url,
    )
    return Ok()


@router.post("/orders/{order_id}/retry-sweep", response_model=Ok)
async def retry_sweep(
    order_id: uuid.UUID, request: Request, db: Session, _: CurrentOperator, actor: OperatorActor
) -> Ok:
    await service.request_sweep_retry(
        db, order_id, sweep_enabled=request.app.state.settings.sweep_enabled, actor=actor
    )
    return Ok()
