"""The merchant API: create and read payments (`/api/v1/payments`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from paywarden.kit.time import as_utc, until_inclusive
from paywarden.kit.web import DbRoute, Session
from paywarden.merchants.dependencies import CurrentMerchant
from paywarden.orders import service
from paywarden.orders.repository import OrderFilter
from paywarden.orders.schemas import OrderFilterQuery, PaymentCreateIn, PaymentOut, PaymentPage
from paywarden.orders.service import NewOrder
from paywarden.webhooks.service import check_destination

router = APIRouter(prefix="/api/v1/payments", route_class=DbRoute, tags=["merchant: payments"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses={200: {"model": PaymentOut, "description": "The same request again: the order"}},
)
async def create_payment(
    body: PaymentCreateIn,
    request: Request,
    response: Response,
    db: Session,
    merchant: CurrentMerchant,
) -> PaymentOut:
    """Create an order with its own deposit address. Repeating a request is safe."""
    await check_destination(request.app.state.gateway.webhooks, "callback_url", body.callback_url)
    new = NewOrder(
        external_id=body.external_id,
        amount=body.amount_units,
        callback_url=body.callback_url,
        expires_in=body.expires_in,
        metadata=body.metadata,
    )
    order, created = await service.create(db, request.app.state.gateway, merchant, new)
    if not created:
        response.status_code = status.HTTP_200_OK
    return PaymentOut.of(order, request.app.state.settings.public_base_url)


@router.get("/{order_id}", response_model=PaymentOut)
async def get_payment(
    order_id: uuid.UUID, request: Request, db: Session, merchant: CurrentMerchant
) -> PaymentOut:
    order = await service.get_for_merchant(db, merchant, order_id)
    return PaymentOut.of(order, request.app.state.settings.public_base_url)


@router.get("", response_model=PaymentPage)
async def list_payments(
    q: Annotated[OrderFilterQuery, Query()],
    request: Request,
    db: Session,
    merchant: CurrentMerchant,
) -> PaymentPage:
    """Your orders, newest first."""
    f = OrderFilter(
        merchant_id=merchant.id, status=q.status, since=as_utc(q.from_), until=until_inclusive(q.to)
    )
    page = await service.search(db, f, q)
    base = request.app.state.settings.public_base_url
    return PaymentPage(
        data=[PaymentOut.of(o, base) for o, _ in page.items], pagination=page.pagination()
    )
