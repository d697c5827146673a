"""Alembic environment: runs on the connection PayWarden hands it (see paywarden/kit/migrations)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from paywarden.config import load_settings
from paywarden.kit.db import make_engine
from paywarden.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    from paywarden.kit.migrations import in_migration_transaction

    engine = make_engine(url)
    await in_migration_transaction(engine, _configure)  # SQLite: foreign keys off for the run
    await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    _configure(given)
else:
    # Plain `alembic upgrade head` from a shell: use the configured DATABASE_URL.
    url = config.get_main_option("sqlalchemy.url") or load_settings().database_url
    asyncio.run(_run_with_own_engine(url))
