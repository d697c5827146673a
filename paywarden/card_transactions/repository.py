"""All SQL on card transactions, the issuer inbox and 3-D Secure codes."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.models import (
    Card,
    CardTransaction,
    Client,
    Code3ds,
    IssuerEvent,
    LedgerAccount,
    LedgerHold,
    Plan,
)
from paywarden.models.cards import EVENT_FAILED, EVENT_PROCESSED, EVENT_RECEIVED
from paywarden.models.ledger import CLIENT, HELD


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


# ---- the authorization's hot path: Core statements built once, rows instead of entities ----

_CARDS = Card.__table__
_TXS = CardTransaction.__table__
_ACCOUNTS = LedgerAccount.__table__
_HOLDS = LedgerHold.__table__
_THE_CARD = and_(
    _CARDS.c.issuer == bindparam("issuer"), _CARDS.c.issuer_card_id == bindparam("card")
)
_THE_TRANSACTION = and_(
    _TXS.c.issuer == bindparam("issuer"), _TXS.c.issuer_transaction_id == bindparam("tx")
)


def _held(account_id: Any) -> Any:
    """The sum of the wallet's active holds (what its balance has reserved)."""
    return (
        select(func.coalesce(func.sum(_HOLDS.c.amount), 0))
        .where(_HOLDS.c.account_id == account_id, _HOLDS.c.status == HELD)
        .scalar_subquery()
        .label("held")
    )


def _recorded(column: Any) -> Any:
    """A column of the row already recorded for this issuer transaction, if any."""
    return select(column).where(_THE_TRANSACTION).scalar_subquery().label(f"recorded_{column.name}")


def _context(*fresh: Any) -> Any:
    """The card, its client's status, the plan's fee and the wallet; both the card's and the
    wallet's rows locked, the card's first (PostgreSQL locks in the order FOR UPDATE OF names;
    SQLite holds its single write lock from BEGIN IMMEDIATE and leaves FOR UPDATE out)."""
    return (
        select(
            _CARDS.c.id,
            _CARDS.c.client_id,
            _CARDS.c.currency,
            _CARDS.c.monthly_limit,
            _CARDS.c.spend_month,
            _CARDS.c.spent_this_month,
            _CARDS.c.status,
            _CARDS.c.last4,
            Client.__table__.c.status.label("client_status"),
            Plan.__table__.c.fx_fee_bps,
            _ACCOUNTS.c.id.label("wallet_id"),
            _ACCOUNTS.c.balance,
            *fresh,
        )
        .join_from(_CARDS, Client.__table__, Client.__table__.c.id == _CARDS.c.client_id)
        .outerjoin(Plan.__table__, Plan.__table__.c.id == Client.__table__.c.plan_id)
        .join(
            _ACCOUNTS,
            and_(
                _ACCOUNTS.c.client_id == _CARDS.c.client_id,
                _ACCOUNTS.c.currency == _CARDS.c.currency,
                _ACCOUNTS.c.kind == CLIENT,
            ),
        )
        .where(_THE_CARD)
        .with_for_update(of=[_CARDS, _ACCOUNTS])
    )


_FRESH = (_held(_ACCOUNTS.c.id), _recorded(_TXS.c.status), _recorded(_TXS.c.decline_reason))
# SQLite: one statement reads it all, the write lock being held since the transaction began.
_WHOLE_CONTEXT = _context(*_FRESH)
# PostgreSQL: a statement's snapshot is taken before it waits for a lock, so the holds and the
# recorded decision that a lock holder has just committed are read by a second statement.
_LOCKED_CONTEXT = _context()
_AFTER_LOCK = select(
    _held(bindparam("wallet")), _recorded(_TXS.c.status), _recorded(_TXS.c.decline_reason)
)
_RECORDED = select(_TXS.c.status, _TXS.c.decline_reason).where(_THE_TRANSACTION)
_CARD_OWNER = select(_CARDS.c.client_id, _CARDS.c.currency).where(_THE_CARD)


def _prefixed(table: Any, prefix: str, columns: Sequence[str]) -> dict[str, Any]:
    """`columns` as bind parameters named `prefix` + column: the decision's writes can then
    travel in one statement without their names colliding."""
    return {c: bindparam(prefix + c, type_=table.c[c].type) for c in columns}


_TX_COLUMNS = (
    "id",
    "card_id",
    "client_id",
    "issuer",
    "issuer_transaction_id",
    "status",
    "decline_reason",
    "raw_code",
    "amount",
    "currency",
    "fx_fee",
    "merchant_amount",
    "merchant_currency",
    "merchant",
    "mcc",
    "country",
    "three_ds",
    "hold_id",
    "refunded_amount",
    "created_at",
    "updated_at",
)
_HOLD_COLUMNS = ("id", "account_id", "amount", "status", "reference_type", "reference_id")
_INSERT_TRANSACTION = _TXS.insert().values(_prefixed(_TXS, "t_", _TX_COLUMNS))
_INSERT_HOLD = _HOLDS.insert().values(_prefixed(_HOLDS, "h_", (*_HOLD_COLUMNS, "created_at")))
_COUNT_SPEND = (
    update(_CARDS)
    .where(_CARDS.c.id == bindparam("s_card"))
    .values(_prefixed(_CARDS, "s_", ("spend_month", "spent_this_month", "updated_at")))
)
# PostgreSQL writes an approval at once: the hold and the card's spend ride as data-modifying
# CTEs of the transaction's INSERT (its foreign key to the hold is checked at the statement's
# end, when the hold is there).
_INSERT_APPROVAL = _INSERT_TRANSACTION.add_cte(_INSERT_HOLD.cte("hold"), _COUNT_SPEND.cte("spend"))


Recorded = tuple[str, str | None]  # a recorded transaction's status and decline reason


@dataclass(frozen=True)
class AuthorizationContext:
    """Everything an authorization decides from, read under the card's and wallet's locks."""

    card_id: uuid.UUID
    client_id: uuid.UUID
    currency: str
    monthly_limit: int
    spend_month: str | None
    spent_this_month: int
    card_status: str
    card_last4: str | None  # for the client's message about the decision
    client_status: str
    fx_fee_bps: int | None  # the client's plan's; None without a plan
    wallet_id: uuid.UUID  # the client's wallet in the card's currency
    balance: int
    held: int  # the wallet's active holds
    recorded: Recorded | None  # the decision already taken on this issuer transaction


async def authorization_context(
    session: AsyncSession, issuer: str, issuer_card_id: str, issuer_transaction_id: str
) -> AuthorizationContext | None:
    """The context in one statement on SQLite, two on PostgreSQL; None when the card is unknown
    or its client has no wallet in its currency."""
    conn = await session.connection()
    params = {"issuer": issuer, "card": issuer_card_id, "tx": issuer_transaction_id}
    if conn.dialect.name == "sqlite":
        row = fresh = (await conn.execute(_WHOLE_CONTEXT, params)).first()
        if row is None:
            return None
    else:
        row = (await conn.execute(_LOCKED_CONTEXT, params)).first()
        if row is None:
            return None
        fresh = (await conn.execute(_AFTER_LOCK, {**params, "wallet": row.wallet_id})).one()
    status = fresh.recorded_status
    return AuthorizationContext(
        row.id,
        row.client_id,
        row.currency,
        row.monthly_limit,
        row.spend_month,
        row.spent_this_month,
        row.status,
        row.last4,
        row.client_status,
        row.fx_fee_bps,
        row.wallet_id,
        int(row.balance),
        int(fresh.held),  # PostgreSQL's sum of bigints is a numeric
        (status, fresh.recorded_decline_reason) if status is not None else None,
    )


async def card_owner(
    session: AsyncSession, issuer: str, issuer_card_id: str
) -> tuple[uuid.UUID, str] | None:
    """The card's client and currency."""
    conn = await session.connection()
    row = (await conn.execute(_CARD_OWNER, {"issuer": issuer, "card": issuer_card_id})).first()
    return (row.client_id, row.currency) if row is not None else None


async def recorded_decision(
    session: AsyncSession, issuer: str, issuer_transaction_id: str
) -> Recorded | None:
    conn = await session.connection()
    params = {"issuer": issuer, "tx": issuer_transaction_id}
    row = (await conn.execute(_RECORDED, params)).first()
    return (row.status, row.decline_reason) if row is not None else None


@dataclass(frozen=True)
class Spend:
    """The card's month-to-date spend after an approval."""

    card_id: uuid.UUID
    month: str
    spent: int


async def record_decision(
    session: AsyncSession,
    tx: dict[str, Any],
    hold: dict[str, Any] | None,
    spend: Spend | None,
) -> None:
    """Write a decision: its hold (`hold`'s values, approved with an amount), its transaction
    row, and the card's new spend; in one statement on PostgreSQL when it holds, else one each.
    The card's and the wallet's rows are locked by the caller."""
    conn = await session.connection()
    params = {f"t_{k}": v for k, v in tx.items()}
    if hold is not None:
        params.update({f"h_{k}": v for k, v in hold.items()}, h_created_at=tx["created_at"])
    if spend is not None:
        params.update(
            s_card=spend.card_id,
            s_spend_month=spend.month,
            s_spent_this_month=spend.spent,
            s_updated_at=tx["updated_at"],
        )
    if hold is not None and spend is not None and conn.dialect.name == "postgresql":
        await conn.execute(_INSERT_APPROVAL, params)
        return
    if hold is not None:
        await conn.execute(_INSERT_HOLD, params)
    await conn.execute(_INSERT_TRANSACTION, params)
    if spend is not None:
        await conn.execute(_COUNT_SPEND, params)


async def client_transactions(
    session: AsyncSession,
    client_id: uuid.UUID,
    card_id: uuid.UUID | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[CardTransaction], int]:
    """The client's card transactions, newest first; `card_id` and `status` narrow them (the
    client's own always: another client's card id finds nothing)."""
    query = select(CardTransaction).where(
        CardTransaction.client_id == client_id,
        *listing.given((CardTransaction.card_id, card_id), (CardTransaction.status, status)),
    )
    return await listing.page(
        session,
        query,
        order_by=(CardTransaction.created_at.desc(), CardTransaction.id.desc()),
        offset=offset,
        limit=limit,
    )


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


def _client_codes_newest(client_id: uuid.UUID, *where: Any) -> Any:
    return (
        select(Code3ds)
        .where(Code3ds.client_id == client_id, *where)
        .order_by(Code3ds.created_at.desc(), Code3ds.id.desc())
    )


async def client_codes(
    session: AsyncSession, client_id: uuid.UUID, since: datetime, limit: int
) -> Sequence[Code3ds]:
    query = _client_codes_newest(client_id, Code3ds.created_at >= since)
    return (await session.scalars(query.limit(limit))).all()


async def client_live_codes(
    session: AsyncSession, client_id: uuid.UUID, now: datetime, limit: int
) -> Sequence[Code3ds]:
    """The client's codes still pending and not past their time."""
    query = _client_codes_newest(client_id, Code3ds.status == "pending", Code3ds.expires_at > now)
    return (await session.scalars(query.limit(limit))).all()


async def client_past_codes(
    session: AsyncSession, client_id: uuid.UUID, now: datetime, limit: int
) -> Sequence[Code3ds]:
    """The client's codes no longer pending, or pending past their time."""
    query = _client_codes_newest(
        client_id, or_(Code3ds.status != "pending", Code3ds.expires_at <= now)
    )
    return (await session.scalars(query.limit(limit))).all()


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
    return await listing.page(
        session,
        select(IssuerEvent).where(*listing.given((IssuerEvent.status, status))),
        order_by=(IssuerEvent.received_at.desc(), IssuerEvent.id.desc()),
        offset=offset,
        limit=limit,
    )


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
