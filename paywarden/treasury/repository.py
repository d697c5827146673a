"""All SQL of the treasury: issuer status and balances, call counters, estimates, the alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import Incident, IssuerBalance, IssuerCallCount, IssuerStatusRow
from paywarden.models import TreasuryEstimate as Estimate


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# --- issuer status ------------------------------------------------------------------------------


# The upserts below are Core statements: reads refresh the ORM objects already in the session.
_FRESH = {"populate_existing": True}


async def status_row(session: AsyncSession, issuer: str) -> IssuerStatusRow | None:
    return await session.scalar(
        select(IssuerStatusRow).where(IssuerStatusRow.issuer == issuer).execution_options(**_FRESH)
    )


async def balances(session: AsyncSession, issuer: str) -> Sequence[IssuerBalance]:
    rows = await session.scalars(
        select(IssuerBalance).where(IssuerBalance.issuer == issuer).execution_options(**_FRESH)
    )
    return rows.all()


async def save_status(
    session: AsyncSession,
    issuer: str,
    *,
    refreshed_at: datetime,
    health_ok: bool | None,
    health_detail: str | None,
    error: str | None,
    balances_failed: bool,
) -> None:
    """Upsert the refresh's outcome (two replicas refreshing at once both succeed; the later
    write wins). The alert columns are left as they are."""
    table = IssuerStatusRow.__table__
    statement = _insert(session, table).values(
        issuer=issuer,
        refreshed_at=refreshed_at,
        health_ok=health_ok,
        health_detail=health_detail,
        error=error,
        error_at=refreshed_at if error else None,
        balances_failed=balances_failed,
        alerting=[],
        alerted_at=None,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["issuer"],
            set_={
                "refreshed_at": statement.excluded.refreshed_at,
                "health_ok": statement.excluded.health_ok,
                "health_detail": statement.excluded.health_detail,
                "error": statement.excluded.error,
                "error_at": statement.excluded.error_at,
                "balances_failed": statement.excluded.balances_failed,
            },
        )
    )


async def _upsert_balance(
    session: AsyncSession, issuer: str, currency: str, **changed: object
) -> None:
    """The (issuer, currency) row with `changed` set, created if missing (other columns NULL)."""
    statement = _insert(session, IssuerBalance.__table__).values(
        issuer=issuer,
        currency=currency,
        **{"amount": None, "checked_at": None, "error": None, "error_at": None, **changed},
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["issuer", "currency"],
            set_={column: statement.excluded[column] for column in changed},
        )
    )


async def save_balance(
    session: AsyncSession, issuer: str, currency: str, amount: int, checked_at: datetime
) -> None:
    """A successful read: the amount, when, and no error."""
    await _upsert_balance(
        session, issuer, currency, amount=amount, checked_at=checked_at, error=None, error_at=None
    )


async def save_balance_error(
    session: AsyncSession, issuer: str, currency: str, error: str, at: datetime
) -> None:
    """A failed read: the last known amount and its `checked_at` stay, the error is noted."""
    await _upsert_balance(session, issuer, currency, error=error, error_at=at)


async def lock_status_row(session: AsyncSession, issuer: str) -> IssuerStatusRow:
    """The issuer's status row, created if missing, locked until the transaction ends (on
    PostgreSQL a second worker's alert check waits here and then sees the first one's flags;
    SQLite writers are serialized by BEGIN IMMEDIATE)."""
    table = IssuerStatusRow.__table__
    await session.execute(
        _insert(session, table)
        .values(issuer=issuer, balances_failed=False, alerting=[])
        .on_conflict_do_nothing(index_elements=["issuer"])
    )
    row = await session.scalar(
        select(IssuerStatusRow)
        .where(IssuerStatusRow.issuer == issuer)
        .with_for_update()
        .execution_options(**_FRESH)
    )
    assert row is not None
    return row


def add_incident(session: AsyncSession, incident: Incident) -> None:
    session.add(incident)


# --- issuer call counters -----------------------------------------------------------------------


async def bump_calls(session: AsyncSession, minute: datetime, ok: int, failed: int) -> None:
    """Add to one minute's counters, creating the row if needed (an upsert on both databases)."""
    table = IssuerCallCount.__table__
    statement = _insert(session, table).values(minute=minute, ok=ok, failed=failed)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["minute"],
            set_={
                "ok": table.c.ok + statement.excluded.ok,
                "failed": table.c.failed + statement.excluded.failed,
            },
        )
    )


async def call_totals(session: AsyncSession, since: datetime) -> tuple[int, int]:
    """(failed, total) over the minutes from `since` on."""
    c = IssuerCallCount.__table__.c
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(c.failed), 0), func.coalesce(func.sum(c.ok + c.failed), 0)
            ).where(c.minute >= since)
        )
    ).one()
    return int(row[0]), int(row[1])


async def prune_calls(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(IssuerCallCount).where(IssuerCallCount.minute < before))
    return int(getattr(result, "rowcount", 0) or 0)


# --- estimates ----------------------------------------------------------------------------------


async def latest_estimate(session: AsyncSession) -> Estimate | None:
    return await session.scalar(
        select(Estimate).order_by(Estimate.created_at.desc(), Estimate.id.desc()).limit(1)
    )


async def estimate_history(session: AsyncSession, limit: int = 50) -> Sequence[Estimate]:
    rows = await session.scalars(
        select(Estimate).order_by(Estimate.created_at.desc(), Estimate.id.desc()).limit(limit)
    )
    return rows.all()


def add_estimate(session: AsyncSession, row: Estimate) -> None:
    session.add(row)
