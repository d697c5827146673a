"""The seed's admin API for orders and the dashboard (`/api/v1/admin/...`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import ValidationError

from paywarden.kit.errors import ValidationFailed
from paywarden.kit.money import format_usdt, percent
from paywarden.kit.time import as_utc, iso, until_inclusive
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor
from paywarden.operators.schemas import Ok
from paywarden.orders import service, stats
from paywarden.orders.repository import OrderFilter, Totals
from paywarden.orders.schemas import (
    AdminOrderDetail,
    AdminOrderDetailOrder,
    AdminOrderFilterQuery,
    AdminOrderOut,
    AdminOrderPage,
    OrderEventOut,
    OrderMeta,
    RetryWebhookIn,
    SettlementOut,
    TransferOut,
)
from paywarden.orders.stats_schemas import (
    DailyRevenue,
    PoolOut,
    StatsOut,
    StatsPeriod,
    StatsTotal,
)
from paywarden.webhooks.schemas import WebhookEventOut
from paywarden.webhooks.service import check_destination

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


def _period(t: Totals) -> StatsPeriod:
    return StatsPeriod(
        order_count=t.order_count,
        completed_count=t.paid_count,
        total_received=format_usdt(t.total_received),
        success_rate=percent(t.paid_count, t.order_count),
    )


@router.get("/stats", response_model=StatsOut)
async def dashboard_stats(request: Request, db: Session, _: CurrentOperator) -> StatsOut:
    d = await stats.dashboard(db, request.app.state.gateway)
    return StatsOut(
        today=_period(d.today),
        week=_period(d.week),
        total=StatsTotal(**_period(d.total).model_dump(), merchant_count=d.merchant_count),
        address_pool=PoolOut.of(d.address_pool),
    )


@router.get("/stats/daily", response_model=list[DailyRevenue])
async def daily_revenue(request: Request, db: Session, _: CurrentOperator) -> list[DailyRevenue]:
    """Fixed 7-day window ending today (report time zone); days with nothing show zero."""
    rows = await stats.daily(db, request.app.state.gateway)
    return [DailyRevenue(date=d.isoformat(), total_received=format_usdt(v)) for d, v in rows]


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
    detail = await service.detail(db, order_id)
    settings = request.app.state.settings
    network = request.app.state.network
    base = AdminOrderOut.of(detail.order, detail.merchant_name)
    return AdminOrderDetail(
        order=AdminOrderDetailOrder(
            **base.model_dump(),
            callback_url=detail.order.callback_url,
            checkout_url=f"{settings.public_base_url}/pay/{detail.order.id}",
            metadata=detail.order.meta,
            updated_at=iso(detail.order.updated_at) or "",
        ),
        events=[OrderEventOut.of(e) for e in detail.events],
        webhooks=WebhookEventOut.list_of(detail.webhooks),
        transaction=[TransferOut.of(t, network.tx_explorer_base_url) for t in detail.transfers]
        or None,
        settlement=SettlementOut(**detail.settlement) if detail.settlement else None,
        meta=OrderMeta(
            network=network.name,
            usdt_contract=network.usdt_contract,
            tronscan_base_url=network.tronscan_base_url,
            tx_explorer_base_url=network.tx_explorer_base_url,
            address_explorer_base_url=network.address_explorer_base_url,
            sweep_enabled=settings.sweep_enabled,
            sweep_mode=settings.sweep_mode,
        ),
    )


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
