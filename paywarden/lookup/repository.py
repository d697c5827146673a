"""All SQL of the lookup: exact matches on each kind of id, a few rows per kind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import (
    Card,
    CardTransaction,
    ChainTransfer,
    Client,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Order,
    Topup,
    WebUser,
)

PER_KIND = 10


async def clients(session: AsyncSession, term: str, as_id: uuid.UUID | None) -> Sequence[Client]:
    options: list[ColumnElement[bool]] = [Client.external_user_id == term]
    if as_id is not None:
        options.append(Client.id == as_id)
    rows = await session.scalars(
        select(Client).where(or_(*options)).order_by(Client.created_at).limit(PER_KIND)
    )
    return rows.all()


async def web_users(session: AsyncSession, term: str, as_id: uuid.UUID | None) -> Sequence[WebUser]:
    options: list[ColumnElement[bool]] = [
        WebUser.email == term.lower(),
        WebUser.external_user_id == term,
    ]
    if as_id is not None:
        options.append(WebUser.id == as_id)
    rows = await session.scalars(
        select(WebUser).where(or_(*options)).order_by(WebUser.created_at).limit(PER_KIND)
    )
    return rows.all()


async def orders(session: AsyncSession, term: str, as_id: uuid.UUID | None) -> Sequence[Order]:
    """By id, deposit address, or the hash of a transfer that paid it: indexed columns only
    (the merchant's external id is unique per merchant only: a lookup by it alone would scan)."""
    paid_by = select(ChainTransfer.order_id).where(
        ChainTransfer.tx_hash == term, ChainTransfer.order_id.is_not(None)
    )
    options: list[ColumnElement[bool]] = [Order.address == term, Order.id.in_(paid_by)]
    if as_id is not None:
        options.append(Order.id == as_id)
    rows = await session.scalars(
        select(Order).where(or_(*options)).order_by(Order.created_at.desc()).limit(PER_KIND)
    )
    return rows.all()


async def ledger_transactions(
    session: AsyncSession, term: str, as_id: uuid.UUID | None
) -> Sequence[LedgerTransaction]:
    options: list[ColumnElement[bool]] = [LedgerTransaction.idempotency_key == term]
    if as_id is not None:
        options.append(LedgerTransaction.id == as_id)
    rows = await session.scalars(
        select(LedgerTransaction)
        .where(or_(*options))
        .order_by(LedgerTransaction.created_at.desc())
        .limit(PER_KIND)
    )
    return rows.all()


async def client_of_transaction(
    session: AsyncSession, transaction_id: uuid.UUID
) -> uuid.UUID | None:
    """The client whose wallet the transaction touched, if any."""
    return await session.scalar(
        select(LedgerAccount.client_id)
        .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
        .where(LedgerPosting.transaction_id == transaction_id, LedgerAccount.client_id.is_not(None))
        .limit(1)
    )


async def cards(session: AsyncSession, term: str, as_id: uuid.UUID | None) -> Sequence[Card]:
    """By id or the issuer's card id (each issuer's ids are unique, so a few rows at most)."""
    options: list[ColumnElement[bool]] = [Card.issuer_card_id == term]
    if as_id is not None:
        options.append(Card.id == as_id)
    rows = await session.scalars(
        select(Card).where(or_(*options)).order_by(Card.created_at).limit(PER_KIND)
    )
    return rows.all()


async def card_transactions(
    session: AsyncSession, term: str, as_id: uuid.UUID | None
) -> Sequence[CardTransaction]:
    """By id or the issuer's transaction id."""
    options: list[ColumnElement[bool]] = [CardTransaction.issuer_transaction_id == term]
    if as_id is not None:
        options.append(CardTransaction.id == as_id)
    rows = await session.scalars(
        select(CardTransaction)
        .where(or_(*options))
        .order_by(CardTransaction.created_at.desc())
        .limit(PER_KIND)
    )
    return rows.all()


async def topups(session: AsyncSession, as_id: uuid.UUID | None) -> Sequence[Topup]:
    """By id, or by the id of the order that pays it."""
    if as_id is None:
        return []
    rows = await session.scalars(
        select(Topup).where(or_(Topup.id == as_id, Topup.order_id == as_id)).limit(PER_KIND)
    )
    return rows.all()
