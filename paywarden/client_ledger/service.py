"""A client's wallet lines, read page by page: the client app's transactions and the operators'
view of the client's ledger show the same lines (one per posting on the client's wallets)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.client_ledger import repository as repo
from paywarden.kit.pagination import Page, PageQuery
from paywarden.models import LedgerPosting, LedgerTransaction

Line = tuple[LedgerPosting, LedgerTransaction]


async def latest(db: AsyncSession, client_id: uuid.UUID, count: int) -> list[Line]:
    """The client's `count` latest lines, newest first."""
    rows, _ = await repo.lines(db, client_id, 0, count)
    return rows


async def lines(db: AsyncSession, client_id: uuid.UUID, q: PageQuery) -> Page[Line]:
    """The client's wallet postings with their transactions, newest first."""
    rows, total = await repo.lines(db, client_id, q.offset, q.limit)
    return Page(rows, q.page, q.limit, total)
