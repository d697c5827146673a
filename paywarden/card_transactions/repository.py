"""All SQL on card transactions, the issuer inbox and 3-D Secure codes."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import (
    Card,
    CardTransaction,
    Client,
    Code3ds,
    IssuerEvent,
    LedgerAccount,
    Plan,
)
from paywarden.models.cards import EVENT_FAILED, EVENT_PROCESSED, EVENT_RECEIVED
from paywarden.models.ledger import CLIENT


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# ---- cards and transactions ----------------------------------------------------------------


async def card_by_issuer_id(
    session: AsyncSession, issuer: str, issuer_card_id: str, *, lock: bool = False
) -> Card | None:
    query = select(Card).where(Card.issuer == issuer, Card.issuer_card_id == issuer_card_id)
    if lock:
        # Populate: a row already in the session must show what the lock holder committed.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


@dataclass(frozen=True)
class AuthorizationContext:
    card: Card  # locked
    client_status: str
    fx_fee_bps: int | None  # the client's plan's; None without a plan
    wallet_id: uuid.UUID | None  # the client's wallet in the card's currency, if it exists


async def authorization_context(
    session: AsyncSession, issuer: str, issuer_card_id: str
) -> AuthorizationContext | None:
    """Everything an authorization decides from, in one statement: the card (its row locked),
    its client's status, the plan's FX fee and the wallet's id (the hot path's round trips)."""
    query = (
        select(Card, Client.status, Plan.fx_fee_bps, LedgerAccount.id)
        .join(Client, Client.id == Card.client_id)
        .outerjoin(Plan, Plan.id == Client.plan_id)
        .outerjoin(
            LedgerAccount,
            and_(
                LedgerAccount.client_id == Card.client_id,
                LedgerAccount.currency == Card.currency,
                LedgerAccount.kind == CLIENT,
            ),
        )
        .where(Card.issuer == issuer, Card.issuer_card_id == issuer_card_id)
        .with_for_update(of=Card)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    return AuthorizationContext(row[0], row[1], row[2], row[3])


async def lock_card(session: AsyncSession, card_id: uuid.UUID) -> Card | None:
    query = (
        select(Card)
        .where(Card.id == card_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def transaction(
    session: AsyncSession, issuer: str, issuer_transaction_id: str, *, lock: bool = False
) -> CardTransaction | None:
    query = select(CardTransaction).where(
        CardTransaction.issuer == issuer,
        CardTransaction.issuer_transaction_id == issuer_transaction_id,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def client_and_plan(
    session: AsyncSession, client_id: uuid.UUID
) -> tuple[Client, Plan | None]:
    query = select(Client, Plan).outerjoin(Plan, Plan.id == Client.plan_id)
    row = (await session.execute(query.where(Client.id == client_id))).one()
    return row[0], row[1]


def add(session: AsyncSession, row: object) -> None:
    session.add(row)


# ---- 3-D Secure codes ----------------------------------------------------------------------


async def insert_code(session: AsyncSession, values: dict[str, Any]) -> bool:
    """A code once per (issuer, reference): a repeated 3ds.code event writes nothing."""
    stmt = _insert(session, Code3ds.__table__).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["issuer", "issuer_reference"])
    result = await session.execute(stmt)
    return bool(result.rowcount)


async def set_code_status(
    session: AsyncSession, issuer: str, reference: str, status: str, now: datetime
) -> int:
    """Move a pending code of the purchase `reference` to `status`, clearing the code."""
    result = await session.execute(
        update(Code3ds)
        .where(
            Code3ds.issuer == issuer,
            Code3ds.issuer_reference == reference,
            Code3ds.status == "pending",
        )
        .values(status=status, code=None, updated_at=now)
    )
    return int(result.rowcount or 0)


async def client_codes(
    session: AsyncSession, client_id: uuid.UUID, since: datetime, limit: int
) -> Sequence[Code3ds]:
    query = (
        select(Code3ds)
        .where(Code3ds.client_id == client_id, Code3ds.created_at >= since)
        .order_by(Code3ds.created_at.desc(), Code3ds.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def expire_codes(session: AsyncSession, now: datetime) -> int:
    """Pending codes past their time become `expired`, their code cleared."""
    result = await session.execute(
        update(Code3ds)
        .where(Code3ds.status == "pending", Code3ds.expires_at <= now)
        .values(status="expired", code=None, updated_at=now)
    )
    return int(result.rowcount or 0)


async def clear_spent_codes(session: AsyncSession) -> int:
    """Any code still kept on a row that is no longer pending (none should be) is cleared."""
    result = await session.execute(
        update(Code3ds)
        .where(Code3ds.status != "pending", Code3ds.code.is_not(None))
        .values(code=None)
    )
    return int(result.rowcount or 0)


async def events_with_spent_codes(
    session: AsyncSession, now: datetime, limit: int, *, skip_locked: bool
) -> Sequence[IssuerEvent]:
    """Inbox rows still holding a code that has lapsed, or whose purchase's code is no longer
    pending once the event was handled; locked (rows another transaction holds are skipped)."""
    pending = exists().where(
        Code3ds.issuer == IssuerEvent.issuer,
        Code3ds.issuer_reference == IssuerEvent.code_reference,
        Code3ds.status == "pending",
    )
    query = (
        select(IssuerEvent)
        .where(
            IssuerEvent.code_expires_at.is_not(None),
            or_(
                IssuerEvent.code_expires_at <= now,
                and_(IssuerEvent.status == EVENT_PROCESSED, ~pending),
            ),
        )
        .order_by(IssuerEvent.code_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).all()


async def code_counts(
    session: AsyncSession, since: datetime, client_id: uuid.UUID | None
) -> dict[str, int]:
    """Codes created since `since`, per status."""
    query = select(Code3ds.status, func.count()).where(Code3ds.created_at >= since)
    if client_id is not None:
        query = query.where(Code3ds.client_id == client_id)
    rows = await session.execute(query.group_by(Code3ds.status))
    return {status: int(n) for status, n in rows.all()}


# ---- the inbox -----------------------------------------------------------------------------


async def insert_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    """The event once per (issuer, event id): False when it was received before."""
    stmt = _insert(session, IssuerEvent.__table__).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["issuer", "event_id"])
    result = await session.execute(stmt)
    return bool(result.rowcount)


async def event_by_provider_id(
    session: AsyncSession, issuer: str, event_id: str
) -> IssuerEvent | None:
    return await session.scalar(
        select(IssuerEvent).where(IssuerEvent.issuer == issuer, IssuerEvent.event_id == event_id)
    )


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> IssuerEvent | None:
    return await session.get(IssuerEvent, event_id)


async def lock_event(
    session: AsyncSession, event_id: uuid.UUID, *, skip_locked: bool = False
) -> IssuerEvent | None:
    """The event's row, locked: one handler at a time (a busy one is skipped by the worker)."""
    query = (
        select(IssuerEvent)
        .where(IssuerEvent.id == event_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)


async def due_events(
    session: AsyncSession, received_before: datetime, max_attempts: int, limit: int
) -> Sequence[uuid.UUID]:
    """Events to (re)try: received and not yet handled, or failed with attempts left; oldest
    first. Only a claim's ids: each is then locked (SKIP LOCKED) in its own transaction."""
    query = (
        select(IssuerEvent.id)
        .where(
            IssuerEvent.status.in_((EVENT_RECEIVED, EVENT_FAILED)),
            IssuerEvent.attempts < max_attempts,
            IssuerEvent.received_at <= received_before,
        )
        .order_by(IssuerEvent.attempts, IssuerEvent.received_at)  # fresh ones first
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def list_events(
    session: AsyncSession, status: str | None, offset: int, limit: int
) -> tuple[Sequence[IssuerEvent], int]:
    where = [IssuerEvent.status == status] if status else []
    total = await session.scalar(select(func.count()).select_from(IssuerEvent).where(*where))
    query = (
        select(IssuerEvent)
        .where(*where)
        .order_by(IssuerEvent.received_at.desc(), IssuerEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return (await session.scalars(query)).all(), int(total or 0)


async def event_counts(session: AsyncSession, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(IssuerEvent.status, func.count())
        .where(IssuerEvent.received_at >= since)
        .group_by(IssuerEvent.status)
    )
    return {status: int(n) for status, n in rows.all()}


async def lag_percentile(session: AsyncSession, since: datetime, fraction: float) -> int | None:
    """The nearest-rank percentile of lag_ms over events received since `since` (portable SQL:
    count, then one ordered row at the rank)."""
    where = (IssuerEvent.received_at >= since, IssuerEvent.lag_ms.is_not(None))
    n = int(await session.scalar(select(func.count()).select_from(IssuerEvent).where(*where)) or 0)
    if n == 0:
        return None
    rank = max(0, math.ceil(n * fraction) - 1)
    value = await session.scalar(
        select(IssuerEvent.lag_ms).where(*where).order_by(IssuerEvent.lag_ms).offset(rank).limit(1)
    )
    return int(value) if value is not None else None
