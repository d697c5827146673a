"""The seed's admin API for merchants (`/api/v1/admin/merchants`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from paywarden.incidents.schemas import IncidentOut
from paywarden.kit.web import DbRoute, Session
from paywarden.merchants import service
from paywarden.merchants.schemas import (
    KeyRotated,
    MerchantCreated,
    MerchantCreateIn,
    MerchantList,
    MerchantListItem,
    MerchantOut,
    MerchantStatsOut,
    MerchantUpdateIn,
)
from paywarden.operators.dependencies import CurrentOperator, OperatorActor
from paywarden.orders.schemas import PaymentOut
from paywarden.webhooks.service import check_destination

router = APIRouter(prefix="/api/v1/admin/merchants", route_class=DbRoute, tags=["admin: merchants"])


class MerchantDetail(BaseModel):
    merchant: MerchantOut
    stats: MerchantStatsOut
    recent_orders: list[PaymentOut]
    recent_incidents: list[IncidentOut]


@router.get("", response_model=MerchantList)
async def list_merchants(db: Session, _: CurrentOperator) -> MerchantList:
    rows = await service.list_all(db)
    return MerchantList(
        data=[MerchantListItem(**MerchantOut.of(m).model_dump(), order_count=n) for m, n in rows]
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MerchantCreated)
async def create_merchant(
    body: MerchantCreateIn,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> MerchantCreated:
    """`api_key` is in this answer only: store it now."""
    await check_destination(request.app.state.gateway.webhooks, "webhook_url", body.webhook_url)
    made = await service.create(
        db,
        name=body.name,
        webhook_secret=body.webhook_secret,
        webhook_url=body.webhook_url,
        actor=actor,
    )
    return MerchantCreated(
        **MerchantOut.of(made.merchant).model_dump(),
        api_key=made.api_key,
        webhook_secret=body.webhook_secret,  # as given: the stored one is encrypted
    )


@router.get("/{merchant_id}", response_model=MerchantDetail)
async def merchant_detail(
    merchant_id: uuid.UUID, request: Request, db: Session, _: CurrentOperator
) -> MerchantDetail:
    d = await service.detail(db, merchant_id)
    base = request.app.state.settings.public_base_url
    return MerchantDetail(
        merchant=MerchantOut.of(d.merchant),
        stats=MerchantStatsOut.of(d.stats),
        recent_orders=[PaymentOut.of(o, base) for o in d.recent_orders],
        recent_incidents=[IncidentOut.of(r) for r in d.recent_incidents],
    )


@router.put("/{merchant_id}", response_model=MerchantOut)
async def update_merchant(
    merchant_id: uuid.UUID,
    body: MerchantUpdateIn,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> MerchantOut:
    """Any of `name`, `is_active`, `webhook_secret`, `webhook_url` (null clears it)."""
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    if "webhook_url" in changes:
        policy = request.app.state.gateway.webhooks
        await check_destination(policy, "webhook_url", body.webhook_url)
    merchant = await service.update(db, merchant_id, changes, actor)
    return MerchantOut.of(merchant)


@router.post("/{merchant_id}/rotate-api-key", response_model=KeyRotated)
async def rotate_api_key(
    merchant_id: uuid.UUID, db: Session, _: CurrentOperator, actor: OperatorActor
) -> KeyRotated:
    """A new key, shown once; the old key stops working at once."""
    made = await service.rotate_api_key(db, merchant_id, actor)
    return KeyRotated(
        id=made.merchant.id,
        name=made.merchant.name,
        api_key=made.api_key,
        api_key_prefix=made.merchant.api_key_prefix,
    )
