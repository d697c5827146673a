"""All SQL on admin_audit_log. There is deliberately no update and no delete here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit.filters import AuditFilter
from paywarden.kit import listing
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


async def page(
    session: AsyncSession, f: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry).where(
        *listing.given(
            (AuditEntry.operator_id, f.operator_id),
            (AuditEntry.action, f.action),
            (AuditEntry.target_type, f.target_type),
            (AuditEntry.target_id, f.target_id),
        ),
        *listing.within(AuditEntry.created_at, f.since, f.until),
    )
    return await listing.page(
        session,
        query,
        order_by=(AuditEntry.created_at.desc(), AuditEntry.id.desc()),
        offset=offset,
        limit=limit,
    )
