"""All SQL on admin_audit_log. There is deliberately no update and no delete here."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit.filters import AuditFilter
from paywarden.models import AuditEntry


def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)


async def of_transaction(
    session: AsyncSession, action: str, target_id: str, transaction_id: str
) -> AuditEntry | None:
    """The entry of `action` on `target_id` whose details name the ledger transaction."""
    return await session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == action,
            AuditEntry.target_id == target_id,
            AuditEntry.details["transaction_id"].as_string() == transaction_id,
        )
    )


def _filtered(query: Select, f: AuditFilter) -> Select:
    if f.operator_id:
        query = query.where(AuditEntry.operator_id == f.operator_id)
    if f.action:
        query = query.where(AuditEntry.action == f.action)
    if f.target_type:
        query = query.where(AuditEntry.target_type == f.target_type)
    if f.target_id:
        query = query.where(AuditEntry.target_id == f.target_id)
    if f.since:
        query = query.where(AuditEntry.created_at >= f.since)
    if f.until:
        query = query.where(AuditEntry.created_at <= f.until)
    return query


async def page(
    session: AsyncSession, f: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    total = await session.scalar(_filtered(select(func.count()).select_from(AuditEntry), f))
    rows = await session.scalars(
        _filtered(select(AuditEntry), f)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)
