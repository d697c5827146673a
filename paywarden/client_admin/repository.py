"""All SQL of the operators' view of clients: the list and the figures of the client page.
(paywarden/clients/repository.py keeps the clients' own rows; paywarden/client_ledger/ the
client's wallet postings.)"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.client_admin.filters import ClientFilter
from paywarden.kit import listing
from paywarden.models import AuditEntry, Card, CardTransaction, Client, Operator, Plan, WebUser


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
    where = listing.given((Client.status, f.status), (Client.plan_id, f.plan_id))
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
    query = select(Client, Plan.name).outerjoin(Plan, Plan.id == Client.plan_id).where(*_where(f))
    rows, total = await listing.page(
        session, query, order_by=(Client.created_at.desc(), Client.id), offset=offset, limit=limit
    )
    return [(c, name) for c, name in rows], total


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
