"""All SQL over a client's wallet postings: its lines, newest first, and their sums by kind."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit import listing
from paywarden.models import LedgerAccount, LedgerPosting, LedgerTransaction
from paywarden.models.ledger import FEE_REVENUE, WALLET_CURRENCIES


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


async def lines(
    session: AsyncSession, client_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[tuple[LedgerPosting, LedgerTransaction]], int]:
    """The client's wallet postings with their transactions, newest first."""
    query = (
        select(LedgerPosting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(_wallets(client_id))
    )
    return await listing.page(
        session,
        query,
        order_by=(LedgerPosting.created_at.desc(), LedgerPosting.id.desc()),
        offset=offset,
        limit=limit,
    )
