"""Health, readiness, metrics, request ids, structured logs and the error body."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from paywarden.config import Settings
from paywarden.kit.migrations import head_revision
from tests.conftest import client_for, start_app
from tests.factories import create_operator, sign_in


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migration"] == head_revision()


async def test_readyz_fails_on_an_unmigrated_database(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}"
    app = create_unstarted(make_settings(database_url=empty))
    from paywarden.kit.db import Database

    app.state.db = Database(empty)
    try:
        async with client_for(app) as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "NOT_READY"
        assert "paywarden migrate" in response.json()["error"]
    finally:
        await app.state.db.dispose()


def create_unstarted(settings: Settings) -> FastAPI:
    from paywarden.app import create_app

    return create_app(settings)


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.get("/healthz")
    await client.delete("/api/v1/admin/sessions/6f1c1a52-0000-4000-8000-000000000000")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert (
        'http_requests_total{method="DELETE",route="/api/v1/admin/sessions/{session_id}",'
        'status="401"} 1.0' in text
    )
    assert "http_request_duration_seconds_bucket" in text


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert len(made.headers["x-request-id"]) == 32


async def test_errors_have_the_seed_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "code": "NOT_FOUND"}
    wrong_method = await client.put("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_an_exhausted_connection_pool_is_503_service_busy(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.2)
    if settings.database_url.startswith("sqlite"):
        pytest.skip("DB_POOL_* size PostgreSQL's pool")
    app, lifespan = await start_app(settings)
    try:
        async with app.state.db.engine.connect() as held, client_for(app) as client:
            await held.execute(text("SELECT 1"))  # the pool's only connection, kept busy
            body = {"email": "a@example.com", "password": "whatever it is"}
            busy = await client.post("/api/v1/admin/auth/login", json=body)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["code"] == "SERVICE_BUSY"
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/admin/auth/login" in spec["paths"]


async def test_production_logs_are_json_with_request_id_and_no_secret(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    app, lifespan = await start_app(make_settings(env="production", log_level="INFO"))
    try:
        op = await create_operator(app.state.db)
        async with client_for(app, https=True) as client:  # the cookie is Secure
            await sign_in(client, op)
            token = client.cookies["admin_token"]
            await client.get("/api/v1/admin/auth/me", headers={"X-Request-ID": "req-42"})
    finally:
        await lifespan.__aexit__(None, None, None)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    me = next(line for line in lines if line.get("route") == "/api/v1/admin/auth/me")
    assert me["request_id"] == "req-42"
    assert me["status"] == 200
    assert me["level"] == "info"
    everything = json.dumps(lines)
    assert token not in everything
    assert op.password not in everything
