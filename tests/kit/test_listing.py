"""kit/listing: the conditions of given filter values, and one page with its total, on a real
database (audit entries stand for any table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.kit.listing import given, page, within
from paywarden.models import AuditEntry, Operator
from tests.factories import create_operator

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KIND = "listing-test"  # the rows of this test, apart from any the app writes itself


async def _seed(db: Database) -> Operator:
    op = (await create_operator(db, "lister@example.com")).operator
    async with db.transaction() as session:
        for i in range(5):
            session.add(
                AuditEntry(
                    created_at=T0 + timedelta(hours=i),
                    operator_id=op.id if i % 2 == 0 else None,
                    actor="lister@example.com" if i % 2 == 0 else "system",
                    action="even" if i % 2 == 0 else "odd",
                    target_type=KIND,
                    target_id=str(i),
                )
            )
    return op


NEWEST_FIRST = (AuditEntry.created_at.desc(), AuditEntry.id.desc())


async def test_given_values_narrow_and_missing_ones_do_not(db: Database) -> None:
    await _seed(db)
    async with db.transaction() as session:
        base = select(AuditEntry).where(AuditEntry.target_type == KIND)
        rows, total = await page(
            session,
            base.where(*given((AuditEntry.action, "even"), (AuditEntry.actor, None))),
            order_by=NEWEST_FIRST,
            offset=0,
            limit=10,
        )
        assert total == 3
        assert [r.target_id for r in rows] == ["4", "2", "0"]

        # An empty string is a field left blank, as None is: it adds no condition.
        rows, total = await page(
            session,
            base.where(*given((AuditEntry.action, ""), (AuditEntry.target_id, None))),
            order_by=NEWEST_FIRST,
            offset=0,
            limit=10,
        )
        assert total == 5


async def test_range_ends_are_inclusive_and_optional(db: Database) -> None:
    await _seed(db)
    async with db.transaction() as session:
        base = select(AuditEntry.target_id).where(AuditEntry.target_type == KIND)
        cases = [
            ((T0 + timedelta(hours=1), T0 + timedelta(hours=3)), ["3", "2", "1"]),
            ((T0 + timedelta(hours=3), None), ["4", "3"]),
            ((None, T0 + timedelta(hours=1)), ["1", "0"]),
            ((None, None), ["4", "3", "2", "1", "0"]),
        ]
        for (since, until), expected in cases:
            query = base.where(*within(AuditEntry.created_at, since, until))
            rows, total = await page(session, query, order_by=NEWEST_FIRST, offset=0, limit=10)
            assert (rows, total) == (expected, len(expected)), (since, until)


async def test_a_page_is_cut_from_the_order_and_the_total_counts_all(db: Database) -> None:
    await _seed(db)
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.target_type == KIND)
        rows, total = await page(session, query, order_by=NEWEST_FIRST, offset=1, limit=2)
        assert total == 5
        assert [r.target_id for r in rows] == ["3", "2"]
        rows, total = await page(session, query, order_by=NEWEST_FIRST, offset=10, limit=2)
        assert (rows, total) == ([], 5)


async def test_several_columns_come_as_tuples_and_an_outer_join_keeps_the_count(
    db: Database,
) -> None:
    op = await _seed(db)
    async with db.transaction() as session:
        query = (
            select(AuditEntry, Operator.email)
            .outerjoin(Operator, Operator.id == AuditEntry.operator_id)
            .where(AuditEntry.target_type == KIND)
        )
        rows, total = await page(session, query, order_by=NEWEST_FIRST, offset=0, limit=3)
        assert total == 5
        assert [(e.target_id, email) for e, email in rows] == [
            ("4", op.email),
            ("3", None),
            ("2", op.email),
        ]
        # A condition on the joined table narrows the count too.
        narrowed = query.where(*given((Operator.email, op.email)))
        _, total = await page(session, narrowed, order_by=NEWEST_FIRST, offset=0, limit=3)
        assert total == 3


async def test_count_from_counts_the_listed_table_alone(db: Database) -> None:
    op = await _seed(db)
    async with db.transaction() as session:
        # An inner join to the operator lists the entries that have one; counted from the
        # entries alone, the same conditions must then hold there too.
        query = (
            select(AuditEntry, Operator.email)
            .join(Operator, Operator.id == AuditEntry.operator_id)
            .where(AuditEntry.target_type == KIND, AuditEntry.operator_id.is_not(None))
        )
        rows, total = await page(
            session, query, order_by=NEWEST_FIRST, offset=0, limit=2, count_from=AuditEntry
        )
        assert total == 3
        assert [(e.target_id, email) for e, email in rows] == [("4", op.email), ("2", op.email)]

        # A condition on the joined table cannot be counted without the join: refused.
        narrowed = query.where(Operator.email == op.email)
        with pytest.raises(ValueError, match="count_from"):
            await page(
                session, narrowed, order_by=NEWEST_FIRST, offset=0, limit=2, count_from=AuditEntry
            )
