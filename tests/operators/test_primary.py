"""The primary operator comes from ADMIN_EMAIL / ADMIN_PASSWORD and is kept in step at start."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.security import verify_password
from paywarden.models import AuditEntry, Operator
from tests.conftest import start_app
from tests.factories import create_operator


async def _restart(settings: Settings) -> None:
    _app, lifespan = await start_app(settings)
    await lifespan.__aexit__(None, None, None)


async def _operators(url: str) -> list[Operator]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return list(await session.scalars(select(Operator).order_by(Operator.created_at)))
    finally:
        await db.dispose()


async def _actions(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return [
                e.action
                for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at))
            ]
    finally:
        await db.dispose()


async def test_created_at_start_and_updated_only_when_env_changes(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(admin_email="boss@example.com", admin_password="first password!")
    await _restart(settings)
    [boss] = await _operators(database_url)
    assert (boss.email, boss.role, boss.is_primary) == ("boss@example.com", "super_admin", True)
    assert verify_password(boss.password_hash, "first password!")

    # A password changed through the API survives a restart with the same .env...
    db = Database(database_url)
    from paywarden.kit.security import hash_password

    async with db.transaction() as session:
        row = await session.get(Operator, boss.id)
        assert row is not None
        row.password_hash = hash_password("changed in the api")
    await db.dispose()
    await _restart(settings)
    [boss] = await _operators(database_url)
    assert verify_password(boss.password_hash, "changed in the api")

    # ...and a new ADMIN_PASSWORD in .env takes over at the next start.
    await _restart(make_settings(admin_email="boss@example.com", admin_password="second password!"))
    [boss] = await _operators(database_url)
    assert verify_password(boss.password_hash, "second password!")
    assert await _actions(database_url) == ["operator.primary_sync", "operator.primary_sync"]


async def test_admin_email_takes_the_primary_flag(
    make_settings: Callable[..., Settings], database_url: str, db: Database
) -> None:
    await create_operator(db, "old@example.com", role="super_admin", primary=True)
    await create_operator(db, "promoted@example.com", role="operator")
    await _restart(make_settings(admin_email="promoted@example.com"))
    flags = {o.email: (o.role, o.is_primary) for o in await _operators(database_url)}
    assert flags == {
        "old@example.com": ("super_admin", False),
        "promoted@example.com": ("super_admin", True),
    }
