"""Migrations build the schema from empty, and the models agree with them exactly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from paywarden.kit.db import make_engine
from paywarden.kit.migrations import current_revision, head_revision, upgrade
from paywarden.models import Base
from tests.conftest import TEST_DATABASE_URL, _admin_execute, _is_postgres


@pytest.fixture
async def empty_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A brand-new, empty database of the kind under test."""
    if _is_postgres():
        name = f"pw_empty_{uuid.uuid4().hex[:12]}"
        await _admin_execute(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url, poolclass=NullPool)
        yield engine
        await engine.dispose()
        await _admin_execute(TEST_DATABASE_URL, f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", poolclass=NullPool)
        yield engine
        await engine.dispose()


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_from_empty_to_head_matches_the_models(empty_engine: AsyncEngine) -> None:
    assert await current_revision(empty_engine) is None
    await upgrade(empty_engine)
    assert await current_revision(empty_engine) == head_revision()
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        tables = await conn.run_sync(_tables)
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


async def test_downgrade_to_empty_and_up_again(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    from alembic import command

    from paywarden.kit.migrations import alembic_config

    def down(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")

    async with empty_engine.begin() as conn:
        await conn.run_sync(down)
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(_tables) <= {"alembic_version"}
    await upgrade(empty_engine)
    assert await current_revision(empty_engine) == head_revision()
