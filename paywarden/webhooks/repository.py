"""All SQL on webhook events, deliveries and attempts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.crypto import keys_of
from paywarden.models import Merchant, WebhookAttempt, WebhookDelivery, WebhookEvent
from paywarden.models.webhooks import D_DELIVERING, D_PENDING


async def merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def latest_event(
    session: AsyncSession, order_id: uuid.UUID, type_: str
) -> WebhookEvent | None:
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.order_id == order_id, WebhookEvent.type == type_)
        .order_by(WebhookEvent.created_at.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def release_stale(session: AsyncSession, claimed_before: datetime) -> int:
    """Deliveries left `delivering` by a worker that died mid-send go back to `pending`."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == D_DELIVERING,
            WebhookDelivery.next_attempt_at <= claimed_before,
        )
        .values(status=D_PENDING)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def claim_due(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookEvent, str]]:
    """Lock due pending deliveries (SKIP LOCKED on PostgreSQL) and mark them `delivering`.

    `next_attempt_at` then holds the claim time, which tells a stale claim from a live one.
    Returns each delivery with its event and the merchant's webhook secret.
    """
    ids = (
        await session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == D_PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not ids:
        return []
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(status=D_DELIVERING, next_attempt_at=now)
    )
    rows = await session.execute(
        select(WebhookDelivery, WebhookEvent, Merchant.webhook_secret)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(Merchant, Merchant.id == WebhookEvent.merchant_id)
        .where(WebhookDelivery.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    keys = keys_of(session)  # the secret is a Fernet token at rest; signing needs it clear
    return [(d, e, keys.decrypt(secret)) for d, e, secret in rows.all()]


async def deliveries(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, WebhookDelivery]:
    """Lock these deliveries, in id order (two batches never wait on each other in a circle)."""
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {d.id: d for d in rows}


async def for_order(
    session: AsyncSession, order_id: uuid.UUID
) -> tuple[Sequence[WebhookEvent], Sequence[WebhookDelivery], Sequence[WebhookAttempt]]:
    """An order's events, their deliveries and attempts, oldest first."""
    events = (
        await session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.order_id == order_id)
            .order_by(WebhookEvent.created_at, WebhookEvent.id)
        )
    ).all()
    if not events:
        return events, [], []
    deliveries = (
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_([e.id for e in events]))
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
    ).all()
    attempts: Sequence[WebhookAttempt] = []
    if deliveries:
        attempts = (
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
                .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
            )
        ).all()
    return events, deliveries, attempts
