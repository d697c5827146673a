"""All SQL on incidents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Incident, Merchant, Order
from paywarden.models.incidents import ISSUER_FLOAT_LOW, SWEEP_FAILED, WEBHOOK_FAILED

# The kinds the incidents list shows: the seed's two, and the cards product's low issuer float
# (no order, no merchant: those fields are null).
LISTED = (WEBHOOK_FAILED, SWEEP_FAILED, ISSUER_FLOAT_LOW)


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    order_status: str | None
    external_id: str | None
    merchant_name: str | None


async def latest(
    session: AsyncSession, *, merchant_id: uuid.UUID | None = None, limit: int = 10
) -> Sequence[IncidentRow]:
    query = (
        select(Incident, Order.status, Order.external_id, Merchant.name)
        .outerjoin(Order, Order.id == Incident.order_id)
        .outerjoin(Merchant, Merchant.id == Incident.merchant_id)
        .where(Incident.event_type.in_(LISTED))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    if merchant_id is not None:
        query = query.where(Incident.merchant_id == merchant_id)
    rows = await session.execute(query)
    return [IncidentRow(i, status, ext, name) for i, status, ext, name in rows.all()]
