"""Sign-in is limited to 5 failed attempts per 15 minutes per client IP and per account."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from paywarden.config import Settings
from paywarden.kit.db import Database
from tests.conftest import client_for, start_app
from tests.factories import PASSWORD, create_operator

LOGIN = "/api/v1/admin/auth/login"
REDIS_URL = "redis://127.0.0.1:6379/0"


async def _fail(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": "wrong password!"})


async def test_five_failures_per_ip_then_429(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    for i in range(5):
        response = await _fail(client, f"user{i}@example.com")
        assert response.status_code == 401
    limited = await client.post(
        LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": op.code()}
    )
    assert limited.status_code == 429
    assert limited.json() == {
        "error": "Too many requests, try again later",
        "code": "RATE_LIMITED",
    }
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60


async def test_five_failures_per_account_from_many_ips(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    for i in range(5):
        async with client_for(app, ip=f"10.0.0.{i + 1}") as client:
            assert (await _fail(client, op.email)).status_code == 401
    async with client_for(app, ip="10.0.0.99") as client:
        response = await client.post(
            LOGIN, json={"email": op.email, "password": PASSWORD, "totp_code": op.code()}
        )
        assert response.status_code == 429
        # Another account from that fresh IP is unaffected.
        other = await _fail(client, "someone@example.com")
        assert other.status_code == 401


async def test_successful_sign_ins_do_not_count(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    # Codes of steps -1..1 are taken relative to now: start well inside a 30 s step, so that a
    # slow run does not cross into the next one and age the step -1 code out of the window.
    into_step = time.time() % 30
    if into_step > 20:
        await asyncio.sleep(30.2 - into_step)
    for step in range(-1, 2):
        body = {"email": op.email, "password": PASSWORD, "totp_code": op.code(step)}
        assert (await client.post(LOGIN, json=body)).status_code == 200
    for _ in range(4):
        assert (await client.post(LOGIN, json={"email": op.email, "password": PASSWORD})).json()[
            "code"
        ] == "TOTP_REQUIRED"
    assert (await _fail(client, op.email)).status_code == 401


async def test_the_failed_attempts_are_audited(client: httpx.AsyncClient, db: Database) -> None:
    op = await create_operator(db)
    for _ in range(6):
        await _fail(client, op.email)
    from sqlalchemy import select

    from paywarden.models import AuditEntry

    async with db.transaction() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "auth.login_failed")
            )
        ).all()
    assert len(rows) == 5  # the sixth was refused before it was tried
    assert all(r.details["reason"] == "invalid_password" for r in rows)
    assert all("password" not in str(r.details).replace("invalid_password", "") for r in rows)


@pytest.fixture
def redis_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(redis_url=REDIS_URL, rate_limit_prefix=f"pwtest-{uuid.uuid4().hex}")


async def test_redis_counters_are_shared_between_replicas(
    redis_settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    first, first_life = await start_app(redis_settings)
    second, second_life = await start_app(redis_settings)
    try:
        op = await create_operator(first.state.db)
        async with client_for(first) as client:
            for _ in range(3):
                assert (await _fail(client, op.email)).status_code == 401
        async with client_for(second) as client:
            for _ in range(2):
                assert (await _fail(client, op.email)).status_code == 401
            limited = await _fail(client, op.email)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        async with client_for(first) as client:
            assert (await _fail(client, op.email)).status_code == 429
    finally:
        await first.state.auth.limiter.reset()
        await first_life.__aexit__(None, None, None)
        await second_life.__aexit__(None, None, None)


async def test_memory_counters_are_per_process(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    first, first_life = await start_app(settings)
    second, second_life = await start_app(settings)
    try:
        op = await create_operator(first.state.db)
        async with client_for(first) as client:
            for _ in range(5):
                await _fail(client, op.email)
            assert (await _fail(client, op.email)).status_code == 429
        async with client_for(second) as client:
            assert (await _fail(client, op.email)).status_code == 401
    finally:
        await first_life.__aexit__(None, None, None)
        await second_life.__aexit__(None, None, None)
