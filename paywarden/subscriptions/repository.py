"""All SQL on subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Subscription
from paywarden.models.subscriptions import ACTIVE, PAST_DUE, PENDING

S = Subscription.__table__


async def by_client(
    session: AsyncSession, client_id: uuid.UUID, *, lock: bool = False
) -> Subscription | None:
    query = select(Subscription).where(Subscription.client_id == client_id)
    if lock:
        # Populate: a row already in the session must show what the lock holder committed.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def insert_unless_exists(session: AsyncSession, values: dict[str, object]) -> None:
    """Insert the client's subscription row; a concurrent twin's insert wins quietly."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(S).values(**values).on_conflict_do_nothing(index_elements=["client_id"])
    )


async def claim_due(
    session: AsyncSession, now: datetime, retry_before: datetime, limit: int
) -> Sequence[Subscription]:
    """Active subscriptions whose period has ended, and unpaid ones (pending, past_due) not
    tried since `retry_before`; locked, skipping rows another worker holds (PostgreSQL)."""
    query = (
        select(Subscription)
        .where(
            or_(
                (Subscription.status == ACTIVE) & (Subscription.current_period_end <= now),
                Subscription.status.in_((PENDING, PAST_DUE))
                & (Subscription.updated_at <= retry_before),
            )
        )
        .order_by(Subscription.current_period_end, Subscription.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).all()
