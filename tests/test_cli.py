"""The `paywarden` command, run as a real process against the test database."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Operator
from tests.factories import create_operator
from tests.servers import PAYWARDEN


async def run_cli(
    database_url: str, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        PAYWARDEN,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": database_url, "ENV": "development", **(env or {})},
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    return process.returncode or 0, out.decode()


async def _one(db: Database, email: str) -> Operator:
    async with db.transaction() as session:
        operator = await session.scalar(select(Operator).where(Operator.email == email))
        assert operator is not None
        return operator


async def test_operator_create_and_reset_2fa_are_audited_as_cli(
    database_url: str, db: Database
) -> None:
    code, out = await run_cli(
        database_url,
        "operator",
        "create",
        "--email",
        "Rescue@Example.com",
        "--role",
        "super_admin",
        env={"PAYWARDEN_OPERATOR_PASSWORD": "a rescue passphrase"},
    )
    assert code == 0, out
    operator = await _one(db, "rescue@example.com")
    assert operator.role == "super_admin"
    assert operator.password_hash.startswith("$argon2id$")

    existing = await create_operator(db, "locked@example.com")
    code, out = await run_cli(database_url, "operator", "reset-2fa", "--email", existing.email)
    assert code == 0, out
    assert (await _one(db, existing.email)).totp_enabled is False

    async with db.transaction() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at))).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("cli", "operator.create"),
        ("cli", "operator.reset_2fa"),
    ]
    assert "a rescue passphrase" not in out


async def test_operator_create_prompts_for_the_password(database_url: str, db: Database) -> None:
    code, out = await run_cli(
        database_url,
        "operator",
        "create",
        "--email",
        "p@example.com",
        stdin="prompted passphrase\nprompted passphrase\n",
    )
    assert code == 0, out
    assert (await _one(db, "p@example.com")).role == "operator"


async def test_cli_errors_are_plain(database_url: str, db: Database) -> None:
    await create_operator(db, "dup@example.com")
    code, out = await run_cli(
        database_url,
        "operator",
        "create",
        "--email",
        "dup@example.com",
        env={"PAYWARDEN_OPERATOR_PASSWORD": "a long passphrase"},
    )
    assert code == 1
    assert "OPERATOR_EMAIL_TAKEN" in out
    code, out = await run_cli(database_url, "operator", "reset-2fa", "--email", "x@example.com")
    assert code == 1
    assert "no operator" in out
    code, out = await run_cli(
        database_url,
        "operator",
        "create",
        "--email",
        "s@example.com",
        env={"PAYWARDEN_OPERATOR_PASSWORD": "short"},
    )
    assert code == 2
    code, out = await run_cli(database_url, "migrate", env={"ENV": "production", "SECRET_KEY": ""})
    assert code == 2
    assert "SECRET_KEY" in out


async def test_migrate_from_empty(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    code, out = await run_cli(url, "migrate")
    assert code == 0, out
    assert "latest migration" in out
