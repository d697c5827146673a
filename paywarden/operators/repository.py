"""All SQL on operators, their sessions, 2FA enrollments and backup codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import BackupCode, Operator, OperatorSession, TotpEnrollment


async def get(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    return await session.scalar(
        select(Operator).where(Operator.id == operator_id, Operator.deleted_at.is_(None))
    )


async def get_by_email(
    session: AsyncSession, email: str, *, include_deleted: bool = False
) -> Operator | None:
    query = select(Operator).where(Operator.email == email.strip().lower())
    if not include_deleted:
        query = query.where(Operator.deleted_at.is_(None))
    return await session.scalar(query)


async def get_primary(session: AsyncSession) -> Operator | None:
    return await session.scalar(
        select(Operator).where(Operator.is_primary.is_(True), Operator.deleted_at.is_(None))
    )


async def count_all(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Operator)) or 0)


async def list_active(session: AsyncSession) -> Sequence[Operator]:
    rows = await session.scalars(
        select(Operator).where(Operator.deleted_at.is_(None)).order_by(Operator.created_at)
    )
    return rows.all()


async def unflag_other_primaries(session: AsyncSession, keep: uuid.UUID) -> None:
    await session.execute(
        update(Operator)
        .where(Operator.is_primary.is_(True), Operator.id != keep)
        .values(is_primary=False)
    )


def add(session: AsyncSession, row: object) -> None:
    session.add(row)


# Sessions


async def get_session_row(session: AsyncSession, session_id: uuid.UUID) -> OperatorSession | None:
    return await session.get(OperatorSession, session_id)


async def live_sessions(
    session: AsyncSession, now: datetime, *, operator_id: uuid.UUID | None
) -> Sequence[tuple[OperatorSession, str]]:
    query = (
        select(OperatorSession, Operator.email)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(OperatorSession.revoked_at.is_(None), OperatorSession.expires_at > now)
        .order_by(OperatorSession.last_seen_at.desc())
    )
    if operator_id is not None:
        query = query.where(OperatorSession.operator_id == operator_id)
    return [(row, email) for row, email in (await session.execute(query)).all()]


async def revoke_sessions(
    session: AsyncSession, operator_id: uuid.UUID, now: datetime, *, keep: uuid.UUID | None = None
) -> int:
    query = update(OperatorSession).where(
        OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(OperatorSession.id != keep)
    result = await session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_dead_sessions(session: AsyncSession, before: datetime) -> int:
    """Drop sessions that expired or were revoked before `before`; the audit log keeps history."""
    rows = await session.scalars(
        select(OperatorSession).where(
            or_(OperatorSession.expires_at < before, OperatorSession.revoked_at < before)
        )
    )
    count = 0
    for row in rows:
        await session.delete(row)
        count += 1
    return count


# 2FA


async def enrollment_by_token_hash(session: AsyncSession, token_hash: str) -> TotpEnrollment | None:
    return await session.scalar(
        select(TotpEnrollment).where(TotpEnrollment.token_hash == token_hash)
    )


async def purge_enrollments(session: AsyncSession, before: datetime) -> None:
    rows = await session.scalars(select(TotpEnrollment).where(TotpEnrollment.expires_at < before))
    for row in rows:
        await session.delete(row)


async def drop_backup_codes(session: AsyncSession, operator_id: uuid.UUID) -> None:
    rows = await session.scalars(select(BackupCode).where(BackupCode.operator_id == operator_id))
    for row in rows:
        await session.delete(row)


async def claim_totp_step(session: AsyncSession, operator_id: uuid.UUID, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was: a replay loses the race."""
    result = await session.execute(
        update(Operator)
        .where(
            Operator.id == operator_id,
            or_(Operator.totp_last_step.is_(None), Operator.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return bool(getattr(result, "rowcount", 0))


async def spend_backup_code(
    session: AsyncSession, operator_id: uuid.UUID, code_hash: str, now: datetime
) -> bool:
    result = await session.execute(
        update(BackupCode)
        .where(
            BackupCode.operator_id == operator_id,
            BackupCode.code_hash == code_hash,
            BackupCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def claim_enrollment(session: AsyncSession, enrollment_id: uuid.UUID, now: datetime) -> bool:
    result = await session.execute(
        update(TotpEnrollment)
        .where(TotpEnrollment.id == enrollment_id, TotpEnrollment.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def lock_operators(session: AsyncSession) -> None:
    """Serialize bootstrap and primary sync on PostgreSQL (SQLite serializes writers already)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE"))
