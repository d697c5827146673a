"""All SQL on the ledger: accounts, transactions, postings, holds, and the consistency check."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.time import utcnow
from paywarden.models import Client, LedgerAccount, LedgerHold, LedgerPosting, LedgerTransaction
from paywarden.models.ledger import CLIENT, HELD, SYSTEM

A = LedgerAccount.__table__
T = LedgerTransaction.__table__
P = LedgerPosting.__table__
H = LedgerHold.__table__
C = Client.__table__

# The hot path's statements, built once (their compiled forms are cached by SQLAlchemy).
# On SQLite FOR UPDATE is left out: the write lock is already held (BEGIN IMMEDIATE).
_LOCK_ACCOUNTS = (
    select(A.c.id, A.c.kind, A.c.currency, A.c.balance, A.c.client_id)
    .where(A.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(A.c.id)
    .with_for_update()
)
_HELD_SUMS = (
    select(H.c.account_id, func.sum(H.c.amount))
    .where(H.c.account_id.in_(bindparam("ids", expanding=True)), H.c.status == HELD)
    .group_by(H.c.account_id)
)
_ADD_TO_BALANCE = (
    update(A).where(A.c.id == bindparam("b_id")).values(balance=A.c.balance + bindparam("b_delta"))
)
_INSERT_TRANSACTION: dict[str, Any] = {}


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True)
class LockedAccount:
    id: uuid.UUID
    kind: str
    currency: str
    balance: int
    client_id: uuid.UUID | None = None  # a client wallet's owner


# ---- accounts ------------------------------------------------------------------------------


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> LedgerAccount | None:
    return await session.get(LedgerAccount, account_id)


async def _ensure_account(session: AsyncSession, kind: str, **key: Any) -> uuid.UUID:
    """The account of `key` (its unique columns), created empty on first use (race-safe: of two
    creators one inserts, both then read its id)."""
    await session.execute(
        _insert(session, A)
        .values(
            **{"client_id": None, "code": None, "shard": 0, **key},
            id=uuid.uuid4(),
            kind=kind,
            balance=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=list(key))
    )
    found = await session.scalar(select(A.c.id).where(*(A.c[k] == v for k, v in key.items())))
    assert found is not None
    return found


async def ensure_client_account(
    session: AsyncSession, client_id: uuid.UUID, currency: str
) -> uuid.UUID:
    """The client's wallet in `currency`, created on first use (race-safe)."""
    return await _ensure_account(session, CLIENT, client_id=client_id, currency=currency)


async def ensure_system_account(
    session: AsyncSession, code: str, currency: str, shard: int
) -> uuid.UUID:
    return await _ensure_account(session, SYSTEM, code=code, currency=currency, shard=shard)


async def ensure_system_accounts(
    session: AsyncSession, keys: Iterable[tuple[str, str, int]]
) -> dict[tuple[str, str, int], uuid.UUID]:
    """The system accounts of `keys` ((code, currency, shard)), created where missing, in two
    statements whatever their number (a process's start warms about a hundred)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    now = utcnow()
    rows = [
        {"id": uuid.uuid4(), "kind": SYSTEM, "client_id": None, "balance": 0, "created_at": now}
        | {"code": code, "currency": currency, "shard": shard}
        for code, currency, shard in wanted
    ]
    await session.execute(
        _insert(session, A).on_conflict_do_nothing(index_elements=["code", "currency", "shard"]),
        rows,
    )
    found = await session.execute(
        select(A.c.code, A.c.currency, A.c.shard, A.c.id).where(
            A.c.kind == SYSTEM, A.c.code.in_({code for code, _, _ in wanted})
        )
    )
    ids = {(code, currency, shard): id_ for code, currency, shard, id_ in found}
    return {key: ids[key] for key in wanted}


async def client_accounts(session: AsyncSession, client_id: uuid.UUID) -> Sequence[LedgerAccount]:
    rows = await session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.client_id == client_id)
        .order_by(LedgerAccount.currency)
    )
    return rows.all()


async def system_balance(session: AsyncSession, code: str, currency: str) -> int:
    """A system account's balance: the sum of its shards."""
    total = await session.scalar(
        select(func.coalesce(func.sum(A.c.balance), 0)).where(
            A.c.code == code, A.c.currency == currency
        )
    )
    return int(total or 0)


async def lock_accounts(
    session: AsyncSession, account_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, LockedAccount]:
    """Lock the accounts' rows in id order (one order everywhere: no deadlock between writers).

    On SQLite the write lock is already held (BEGIN IMMEDIATE) and FOR UPDATE is left out.
    """
    await session.flush()  # the Core statements below don't autoflush the ORM's pending rows
    conn = await session.connection()
    rows = await conn.execute(_LOCK_ACCOUNTS, {"ids": sorted(set(account_ids))})
    return {
        r.id: LockedAccount(r.id, r.kind, r.currency, int(r.balance), r.client_id) for r in rows
    }


_THRESHOLDS = select(C.c.id, C.c.low_balance_threshold).where(
    C.c.id.in_(bindparam("ids", expanding=True)), C.c.low_balance_threshold.is_not(None)
)


async def low_balance_thresholds(
    session: AsyncSession, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The balance under which each client wants to hear of a wallet (absent: never)."""
    conn = await session.connection()
    rows = await conn.execute(_THRESHOLDS, {"ids": sorted(set(client_ids))})
    return {r.id: int(r.low_balance_threshold) for r in rows}


async def held_sums(
    session: AsyncSession, account_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The sum of each account's active holds (its "reserved")."""
    ids = list(set(account_ids))
    if not ids:
        return {}
    conn = await session.connection()
    rows = await conn.execute(_HELD_SUMS, {"ids": ids})
    return {account_id: int(total) for account_id, total in rows.all()}


async def add_to_balances(session: AsyncSession, deltas: Mapping[uuid.UUID, int]) -> None:
    changed = [{"b_id": k, "b_delta": v} for k, v in sorted(deltas.items()) if v]
    if not changed:
        return
    await (await session.connection()).execute(_ADD_TO_BALANCE, changed)


# ---- transactions and postings -------------------------------------------------------------


async def transaction_by_key(session: AsyncSession, key: str) -> LedgerTransaction | None:
    return await session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key)
    )


async def get_transaction(
    session: AsyncSession, transaction_id: uuid.UUID
) -> LedgerTransaction | None:
    return await session.get(LedgerTransaction, transaction_id)


async def insert_transaction(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless the idempotency key exists; True when this call wrote the row."""
    dialect = session.bind.dialect.name
    stmt = _INSERT_TRANSACTION.get(dialect)
    if stmt is None:
        stmt = _INSERT_TRANSACTION[dialect] = (
            _insert(session, T)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(T.c.id)
        )
    conn = await session.connection()
    return (await conn.execute(stmt, values)).first() is not None


async def insert_postings(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await (await session.connection()).execute(P.insert(), list(rows))


async def postings_of(session: AsyncSession, transaction_id: uuid.UUID) -> Sequence[LedgerPosting]:
    rows = await session.scalars(
        select(LedgerPosting)
        .where(LedgerPosting.transaction_id == transaction_id)
        .order_by(LedgerPosting.account_id)
    )
    return rows.all()


async def latest_lines(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], limit: int
) -> Sequence[tuple[LedgerPosting, LedgerTransaction]]:
    rows = await session.execute(
        select(LedgerPosting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerPosting.account_id.in_(account_ids))
        .order_by(LedgerPosting.created_at.desc(), LedgerPosting.id)
        .limit(limit)
    )
    return [(p, t) for p, t in rows.all()]


# ---- holds ---------------------------------------------------------------------------------


def add_hold(session: AsyncSession, hold: LedgerHold) -> None:
    session.add(hold)


async def lock_hold(session: AsyncSession, hold_id: uuid.UUID) -> LedgerHold | None:
    return await session.scalar(
        select(LedgerHold)
        .where(LedgerHold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def close_hold(
    session: AsyncSession,
    hold: LedgerHold,
    status: str,
    when: datetime,
    *,
    transaction_id: uuid.UUID | None = None,
    posted_amount: int | None = None,
) -> None:
    hold.status = status
    hold.closed_at = when
    hold.transaction_id = transaction_id
    hold.posted_amount = posted_amount
    await session.flush()


# ---- the check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceRow:
    account_id: uuid.UUID
    kind: str
    client_id: uuid.UUID | None
    code: str | None
    shard: int
    currency: str
    cached: int
    computed: int


async def balance_differences(
    session: AsyncSession, account_ids: Sequence[uuid.UUID] | None = None
) -> list[BalanceRow]:
    """Accounts whose cached balance is not the sum of their postings (one snapshot)."""
    sums = (
        select(P.c.account_id, func.sum(P.c.amount).label("total"))
        .group_by(P.c.account_id)
        .subquery()
    )
    computed = func.coalesce(sums.c.total, 0)
    query = (
        select(
            A.c.id,
            A.c.kind,
            A.c.client_id,
            A.c.code,
            A.c.shard,
            A.c.currency,
            A.c.balance,
            computed.label("computed"),
        )
        .outerjoin(sums, sums.c.account_id == A.c.id)
        .where(A.c.balance != computed)
        .order_by(A.c.id)
    )
    if account_ids is not None:
        query = query.where(A.c.id.in_(account_ids))
    rows = await session.execute(query)
    return [
        BalanceRow(
            r.id,
            r.kind,
            r.client_id,
            r.code,
            int(r.shard),
            r.currency,
            int(r.balance),
            int(r.computed),
        )
        for r in rows
    ]


async def unbalanced_transactions(session: AsyncSession) -> list[tuple[uuid.UUID, str, int]]:
    """(transaction, currency, sum) for every transaction whose postings don't sum to zero."""
    total = func.sum(P.c.amount)
    rows = await session.execute(
        select(P.c.transaction_id, P.c.currency, total)
        .group_by(P.c.transaction_id, P.c.currency)
        .having(total != 0)
        .order_by(P.c.transaction_id)
    )
    return [(t, c, int(s)) for t, c, s in rows.all()]


async def currency_mismatches(session: AsyncSession) -> list[tuple[uuid.UUID, str, str]]:
    """(posting, posting currency, account currency) where they differ."""
    rows = await session.execute(
        select(P.c.id, P.c.currency, A.c.currency)
        .join(A, A.c.id == P.c.account_id)
        .where(P.c.currency != A.c.currency)
        .order_by(P.c.id)
    )
    return [(p, pc, ac) for p, pc, ac in rows.all()]


async def empty_transactions(session: AsyncSession) -> list[uuid.UUID]:
    """Transactions with fewer than two postings."""
    counts = (
        select(P.c.transaction_id, func.count().label("n")).group_by(P.c.transaction_id).subquery()
    )
    rows = await session.scalars(
        select(T.c.id)
        .outerjoin(counts, counts.c.transaction_id == T.c.id)
        .where(func.coalesce(counts.c.n, literal_column("0")) < 2)
        .order_by(T.c.id)
    )
    return list(rows.all())


async def set_balances(session: AsyncSession, balances: Mapping[uuid.UUID, int]) -> None:
    if not balances:
        return
    stmt = update(A).where(A.c.id == bindparam("b_id")).values(balance=bindparam("b_value"))
    await (await session.connection()).execute(
        stmt, [{"b_id": k, "b_value": v} for k, v in sorted(balances.items())]
    )
