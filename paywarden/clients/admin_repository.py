"""All SQL of the operators' view of clients: the list, the figures of the client page, the
client's ledger lines. (paywarden/clients/repository.py keeps the clients' own rows.)"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients.filters import ClientFilter
from paywarden.models import (
    AuditEntry,
    Card,
    CardTransaction,
    Client,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Operator,
    Plan,
    WebUser,
)
from paywarden.models.ledger import FEE_REVENUE, WALLET_CURRENCIES


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _linked_web_user(*extra: ColumnElement[bool]) -> ColumnElement[bool]:
    """A web user is linked to a client by its own `web_<id>` client or by the `tg_…` it joined."""
    return exists().where(
        or_(WebUser.client_id == Client.id, WebUser.external_user_id == Client.external_user_id),
        *extra,
    )


def _where(f: ClientFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.status:
        where.append(Client.status == f.status)
    if f.plan_id:
        where.append(Client.plan_id == f.plan_id)
    if f.search:
        term = f.search.strip().lower()
        like = _like(term)
        options: list[ColumnElement[bool]] = [
            func.lower(Client.external_user_id).like(like, escape="\\"),
            func.lower(Client.username).like(like, escape="\\"),
            func.lower(Client.display_name).like(like, escape="\\"),
            _linked_web_user(WebUser.email.like(like, escape="\\")),
        ]
        with contextlib.suppress(ValueError):  # not an id: the other options only
            options.append(Client.id == uuid.UUID(term))
        where.append(or_(*options))
    return where


async def search(
    session: AsyncSession, f: ClientFilter, offset: int, limit: int
) -> tuple[Sequence[tuple[Client, str | None]], int]:
    """Clients newest first, each with its plan's name."""
    where = _where(f)
    total = await session.scalar(select(func.count()).select_from(Client).where(*where))
    rows = await session.execute(
        select(Client, Plan.name)
        .outerjoin(Plan, Plan.id == Client.plan_id)
        .where(*where)
        .order_by(Client.created_at.desc(), Client.id)
        .offset(offset)
        .limit(limit)
    )
    return [(c, name) for c, name in rows.all()], int(total or 0)


async def emails_of(session: AsyncSession, clients: Sequence[Client]) -> dict[uuid.UUID, str]:
    """The email of the web user linked to each client (its own login first, else a `tg_` link)."""
    if not clients:
        return {}
    by_external = {c.external_user_id: c.id for c in clients}
    rows = await session.execute(
        select(WebUser.client_id, WebUser.external_user_id, WebUser.email)
        .where(
            or_(
                WebUser.client_id.in_([c.id for c in clients]),
                WebUser.external_user_id.in_(list(by_external)),
            )
        )
        .order_by(WebUser.created_at)
    )
    own: dict[uuid.UUID, str] = {}
    linked: dict[uuid.UUID, str] = {}
    for client_id, external_user_id, email in rows.all():
        if client_id is not None and client_id not in own:
            own[client_id] = email
        if external_user_id in by_external:
            linked.setdefault(by_external[external_user_id], email)
    return {**linked, **own}


async def operator(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    """Any operator, deleted ones too (a support owner's email stays readable)."""
    return await session.get(Operator, operator_id)


async def last_audit_entry(session: AsyncSession, client_id: uuid.UUID) -> AuditEntry | None:
    return await session.scalar(
        select(AuditEntry)
        .where(AuditEntry.target_type == "client", AuditEntry.target_id == str(client_id))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(1)
    )


# ---- the client's ledger -------------------------------------------------------------------


def _wallets(client_id: uuid.UUID) -> ColumnElement[bool]:
    return LedgerPosting.account_id.in_(
        select(LedgerAccount.id).where(LedgerAccount.client_id == client_id)
    )


@dataclass(frozen=True)
class KindSum:
    kind: str
    currency: str
    total: int  # the signed sum of the client's postings
    count: int  # ledger transactions


async def sums_by_kind(
    session: AsyncSession, client_id: uuid.UUID, since: datetime | None = None
) -> list[KindSum]:
    """The client's wallet postings summed per transaction kind and currency."""
    query = (
        select(
            LedgerTransaction.kind,
            LedgerPosting.currency,
            func.sum(LedgerPosting.amount),
            func.count(func.distinct(LedgerPosting.transaction_id)),
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(_wallets(client_id))
        .group_by(LedgerTransaction.kind, LedgerPosting.currency)
    )
    if since is not None:
        query = query.where(LedgerPosting.created_at >= since)
    rows = await session.execute(query)
    return [KindSum(k, c, int(t or 0), int(n)) for k, c, t, n in rows.all()]


async def fees_paid(session: AsyncSession, client_id: uuid.UUID) -> dict[str, int]:
    """Fee revenue per currency from the transactions that touched the client's wallets."""
    touched = select(LedgerPosting.transaction_id).where(_wallets(client_id))
    rows = await session.execute(
        select(LedgerPosting.currency, func.sum(LedgerPosting.amount))
        .join(
            LedgerAccount,
            and_(LedgerAccount.id == LedgerPosting.account_id, LedgerAccount.code == FEE_REVENUE),
        )
        .where(
            LedgerPosting.transaction_id.in_(touched),
            LedgerPosting.currency.in_(WALLET_CURRENCIES),  # fees are taken in EUR or USD
        )
        .group_by(LedgerPosting.currency)
    )
    out: dict[str, int] = defaultdict(int)
    for currency, total in rows.all():
        out[currency] += int(total or 0)
    return dict(out)


async def transaction_count(session: AsyncSession, client_id: uuid.UUID, since: datetime) -> int:
    total = await session.scalar(
        select(func.count(func.distinct(LedgerPosting.transaction_id))).where(
            _wallets(client_id), LedgerPosting.created_at >= since
        )
    )
    return int(total or 0)


async def ledger_lines(
    session: AsyncSession, client_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[tuple[LedgerPosting, LedgerTransaction]], int]:
    """The client's wallet postings with their transactions, newest first."""
    total = await session.scalar(
        select(func.count()).select_from(LedgerPosting).where(_wallets(client_id))
    )
    rows = await session.execute(
        select(LedgerPosting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(_wallets(client_id))
        .order_by(LedgerPosting.created_at.desc(), LedgerPosting.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(p, t) for p, t in rows.all()], int(total or 0)


async def cards_of(session: AsyncSession, client_id: uuid.UUID) -> Sequence[Card]:
    return (await session.scalars(select(Card).where(Card.client_id == client_id))).all()


async def card_transaction_counts(
    session: AsyncSession, client_id: uuid.UUID, since: datetime
) -> dict[str, int]:
    """The client's card transactions since `since`, counted by status."""
    rows = await session.execute(
        select(CardTransaction.status, func.count())
        .where(CardTransaction.client_id == client_id, CardTransaction.created_at >= since)
        .group_by(CardTransaction.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def latest_card_transaction(
    session: AsyncSession, client_id: uuid.UUID
) -> CardTransaction | None:
    query = (
        select(CardTransaction)
        .where(CardTransaction.client_id == client_id)
        .order_by(CardTransaction.created_at.desc(), CardTransaction.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()
