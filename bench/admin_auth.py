"""Benchmark: the cost of an authenticated admin request and of a password check.

Every admin request decodes the JWT and loads its session and operator row, so this is the floor
under every console page. Runs in-process (ASGI, no network) on SQLite and, when reachable,
PostgreSQL. Prints medians and p95 over N sequential requests.

    .venv/bin/python bench/admin_auth.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.kit.crypto import keys_of
from paywarden.kit.db import make_engine
from paywarden.kit.migrations import upgrade
from paywarden.kit.security import hash_password, verify_password
from paywarden.models import Operator

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PASSWORD = "benchmark passphrase"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, var_dir: Path, requests: int) -> list[float]:
    engine = make_engine(url, poolclass=NullPool)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        var_dir=var_dir,
        secret_key="b" * 40,
        log_level="WARNING",
        admin_email=None,
        admin_password=None,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        secret = pyotp.random_base32()
        async with app.state.db.transaction() as session:
            session.add(
                Operator(
                    email="bench@example.com",
                    password_hash=hash_password(PASSWORD),
                    role="operator",
                    totp_secret=keys_of(session).encrypt(secret),  # encrypted at rest
                    totp_enabled=True,
                )
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post(
                "/api/v1/admin/auth/login",
                json={
                    "email": "bench@example.com",
                    "password": PASSWORD,
                    "totp_code": pyotp.TOTP(secret).now(),
                },
            )
            assert login.status_code == 200, login.text
            for _ in range(50):  # warm-up
                await client.get("/api/v1/admin/auth/me")
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get("/api/v1/admin/auth/me")
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200
    return timings


def report(name: str, timings: list[float]) -> None:
    median = statistics.median(timings) * 1000
    print(
        f"{name:<34} median {median:7.3f} ms   p95 {percentile(timings, 0.95) * 1000:7.3f} ms"
        f"   {1 / statistics.median(timings):8.0f} req/s (one client, sequential)"
    )


async def postgres_available() -> bool:
    try:
        engine = create_async_engine(POSTGRES, poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await engine.dispose()
        return True
    except Exception:  # unreachable for any reason means "skip"
        return False


async def admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report(
            "GET /auth/me, SQLite",
            await measure(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp), requests),
        )
        if await postgres_available():
            name = f"pw_bench_{uuid.uuid4().hex[:8]}"
            await admin(POSTGRES, f'CREATE DATABASE "{name}"')
            try:
                url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
                report("GET /auth/me, PostgreSQL", await measure(url, Path(tmp), requests))
            finally:
                await admin(POSTGRES, f'DROP DATABASE "{name}" WITH (FORCE)')
        else:
            print("PostgreSQL not reachable on 127.0.0.1:5432: skipped")
    stored = hash_password(PASSWORD)
    checks = []
    for _ in range(30):
        started = time.perf_counter()
        verify_password(stored, PASSWORD)
        checks.append(time.perf_counter() - started)
    report("argon2id password check", checks)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
