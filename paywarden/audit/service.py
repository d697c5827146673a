"""Writing and reading the audit log. Callers pass their session: rows commit with the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import repository
from paywarden.audit.context import Actor
from paywarden.audit.repository import AuditFilter
from paywarden.kit.pagination import Page, PageQuery
from paywarden.models import AuditEntry


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    repository.add(
        session,
        AuditEntry(
            operator_id=actor.operator_id,
            actor=actor.label,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            details=details or {},
            ip=actor.ip,
            user_agent=actor.user_agent,
        ),
    )


async def of_transaction(
    session: AsyncSession, action: str, target_id: object, transaction_id: object
) -> AuditEntry | None:
    """The audit entry of `action` on `target_id` recorded with the ledger transaction."""
    return await repository.of_transaction(session, action, str(target_id), str(transaction_id))


async def search(session: AsyncSession, f: AuditFilter, paging: PageQuery) -> Page[AuditEntry]:
    rows, total = await repository.page(session, f, offset=paging.offset, limit=paging.limit)
    return Page(items=rows, page=paging.page, limit=paging.limit, total=total)
