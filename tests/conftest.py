"""Test harness: every test gets its own migrated database, on SQLite or PostgreSQL.

TEST_DATABASE_URL picks the database (SQLite by default). PostgreSQL runs in a database made for
this run (migrated once, emptied between tests); SQLite copies a migrated template file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2.profiles import CHEAPEST
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from paywarden import subscribers
from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.kit import security
from paywarden.kit.db import Database, make_engine
from paywarden.kit.migrations import upgrade
from paywarden.models import Base
from paywarden.tron.keys import account_xpub

# Tests call services without building an app: their events need the subscribers too.
subscribers.compose()
# Real argon2id at its cheapest: hundreds of tests make and sign in operators, and the
# production cost (~0.1 s a hash) would add minutes without testing anything more.
TEST_PASSWORD_PARAMETERS = CHEAPEST
security.use_parameters(TEST_PASSWORD_PARAMETERS)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "sqlite")
BOOTSTRAP_TOKEN = "bootstrap-token-for-tests-0123456789"
# The well-known BIP-39 test mnemonic: public test vectors exist for its addresses.
TEST_MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
TEST_XPUB = account_xpub(TEST_MNEMONIC)
# A fixed Fernet key for secrets at rest (production requires ENCRYPTION_KEYS).
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI="


def _is_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgresql")


async def _admin_execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def _migrate(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this run: a file path (SQLite) or a database URL (PostgreSQL)."""
    if _is_postgres():
        name = f"pw_test_{uuid.uuid4().hex[:12]}"
        admin_url = TEST_DATABASE_URL
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
        asyncio.run(_admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
        asyncio.run(_migrate(url))
        yield url
        asyncio.run(_admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        yield str(path)


@pytest.fixture
async def database_url(database_template: str, tmp_path: Path) -> str:
    if _is_postgres():
        # DELETE beats TRUNCATE tenfold on a test's few rows (TRUNCATE makes new files for
        # every table); replica mode skips triggers and foreign keys, so any order empties all.
        await _admin_execute(
            database_template,
            "BEGIN",
            "SET LOCAL session_replication_role = replica",
            *(f"DELETE FROM {t.name}" for t in Base.metadata.sorted_tables),  # noqa: S608
            "COMMIT",
        )
        return database_template
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "development",
            "database_url": database_url,
            "secret_key": "test-secret-key-" + "x" * 32,
            "var_dir": tmp_path / "var",
            "admin_bootstrap_token": BOOTSTRAP_TOKEN,
            "xpub": TEST_XPUB,
            "address_pool_min_free": 5,
            "demo_data": False,
            "devnet_block_seconds": 0,  # tests mine devnet blocks on demand
            "admin_email": None,
            "admin_password": None,
            "redis_url": None,
            "log_level": "WARNING",
            # Explicit, as production requires (development would derive them).
            "issuer_api_key": "test-issuer-api-key",
            "issuer_webhook_secrets": "test-issuer-webhook-secret",
            "encryption_keys": TEST_ENCRYPTION_KEY,
            "metrics_port": 0,  # no side listener on a fixed port in tests
        }
        if overrides.get("env") == "production":
            # Production refuses the devnet and the sandbox issuer: a real network's name (never
            # reached by these tests) and no issuer, unless the test says otherwise.
            values.update(tron_network="nile", issuer="none")
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


async def start_app(settings: Settings) -> tuple[FastAPI, Any]:
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    return app, lifespan


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application, lifespan = await start_app(settings)
    yield application
    await lifespan.__aexit__(None, None, None)


def client_for(app: FastAPI, ip: str = "127.0.0.1", *, https: bool = False) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    base_url = "https://testserver" if https else "http://testserver"
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture
def db(app: FastAPI) -> Database:
    return app.state.db


@pytest.fixture
async def admin_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as an operator (role `operator`: everything but managing operators)."""
    from tests.factories import create_operator, sign_in

    op = await create_operator(app.state.db, "admin-client@example.com")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c
