"""Alembic, driven from code: the CLI, the app's readiness check and the tests use this."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from paywarden.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    # On the driver's connection, outside any transaction: SQLite ignores this PRAGMA inside one.
    cursor = conn.connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _no_broken_references(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration broke {len(broken)} foreign key reference(s)")


async def _migrate(engine: AsyncEngine, step: Any, settings: Settings | None) -> None:
    def run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        if settings is not None:
            cfg.attributes["settings"] = settings
        step(cfg)

    await in_migration_transaction(engine, run)


async def in_migration_transaction(engine: AsyncEngine, run: Any) -> None:
    """`run(connection)` in one transaction, as migrations need it on either database."""
    async with engine.connect() as conn:
        # SQLite rebuilds a table to alter a column (batch mode): with rows referencing it, the
        # rebuild's DROP fails while foreign keys are enforced, so they are off for the run and
        # checked before the commit (as SQLite's ALTER TABLE procedure says).
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.run_sync(_sqlite_foreign_keys, False)
        try:
            async with conn.begin():
                await conn.run_sync(run)
                if sqlite:
                    await conn.run_sync(_no_broken_references)
        finally:
            if sqlite:
                await conn.run_sync(_sqlite_foreign_keys, True)


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, settings: Settings | None = None
) -> None:
    """Upgrade to `revision`. `settings` give data migrations their key set (ENCRYPTION_KEYS);
    without them a revision that needs keys loads the environment's settings."""
    await _migrate(engine, lambda cfg: command.upgrade(cfg, revision), settings)


async def downgrade(
    engine: AsyncEngine, revision: str, *, settings: Settings | None = None
) -> None:
    """Downgrade to `revision` (`settings` as for `upgrade`: 0011's decrypts)."""
    await _migrate(engine, lambda cfg: command.downgrade(cfg, revision), settings)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(conn: Connection) -> Any:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
