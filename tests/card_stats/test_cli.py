"""`paywarden analytics check` and `rebuild`, as real processes against the test database."""

from __future__ import annotations

from sqlalchemy import select, text

from paywarden.kit.db import Database
from paywarden.models import AuditEntry
from tests.card_stats.test_rollup import mixed_writes
from tests.test_cli import run_cli


async def test_check_finds_a_drifted_rollup_and_rebuild_mends_it(
    database_url: str, db: Database
) -> None:
    await mixed_writes(db, 11)
    code, out = await run_cli(database_url, "analytics", "check")
    assert code == 0, out
    assert "equals a rebuild" in out

    async with db.transaction() as session:
        await session.execute(
            text("UPDATE card_stats SET spend_amount = spend_amount + 7 WHERE bucket > 0")
        )
    code, out = await run_cli(database_url, "analytics", "check")
    assert code == 1, out
    assert "spend_amount: kept" in out
    assert "differs" in out

    code, out = await run_cli(database_url, "analytics", "rebuild")
    assert code == 0, out
    async with db.transaction() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "analytics.rebuild")
            )
        )
    assert [e.actor for e in entries] == ["cli"]
    assert entries[0].details["buckets"] > 0
    code, out = await run_cli(database_url, "analytics", "check")
    assert code == 0, out
