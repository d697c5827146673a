"""ENV=production refuses at start what is only for development (the devnet, the sandbox issuer,
private webhook targets), and ISSUER=none runs the gateway alone: card routes answer 503."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from starlette.routing import Mount

from paywarden.config import ConfigError, Settings, load_settings
from paywarden.context import WorkerContext
from paywarden.worker import LOOPS, loops_for
from tests.conftest import TEST_XPUB, client_for, start_app
from tests.servers import PAYWARDEN, free_port, serve_process

ENCRYPTION_KEY = Fernet.generate_key().decode()
# Every production setting that must be set, with values a real install would use.
PRODUCTION: dict[str, str] = {
    "ENV": "production",
    "SECRET_KEY": "production-secret-" + "p" * 32,
    "XPUB": TEST_XPUB,
    "ENCRYPTION_KEYS": ENCRYPTION_KEY,
    "TRON_NETWORK": "nile",
    "ISSUER": "none",
}
UNSET = object()
REFUSALS: list[tuple[str, object, str]] = [
    ("TRON_NETWORK", UNSET, "TRON_NETWORK is devnet (the default) in production"),
    ("TRON_NETWORK", "devnet", "TRON_NETWORK is devnet (the default) in production"),
    ("ISSUER", UNSET, "ISSUER is sandbox (the default) in production"),
    ("ISSUER", "sandbox", "ISSUER is sandbox (the default) in production"),
    ("ISSUER", " SandBox ", "ISSUER is sandbox (the default) in production"),
    ("WEBHOOK_ALLOW_PRIVATE", "true", "WEBHOOK_ALLOW_PRIVATE=true is refused in production"),
]
# Every card route (client, admin, issuer inbound, B2B): none may run without an issuer.
CARD_ROUTES: list[tuple[str, str]] = [
    ("GET", "/api/botcartd/cards"),
    ("POST", "/api/botcartd/cards"),
    ("POST", "/api/botcartd/cards/00000000-0000-0000-0000-000000000001/freeze"),
    ("GET", "/api/botcartd/cards/00000000-0000-0000-0000-000000000001/details"),
    ("GET", "/api/botcartd/3ds"),
    ("POST", "/api/botcartd/b2b/redeem"),
    ("GET", "/api/v1/admin/clients/00000000-0000-0000-0000-000000000001/cards"),
    ("POST", "/api/v1/admin/clients/00000000-0000-0000-0000-000000000001/cards"),
    ("POST", "/api/v1/admin/cards/00000000-0000-0000-0000-000000000001/close"),
    ("PATCH", "/api/v1/admin/cards/00000000-0000-0000-0000-000000000001"),
    ("GET", "/api/v1/admin/card-transactions"),
    ("GET", "/api/v1/admin/issuer-events"),
    ("POST", "/api/v1/admin/issuer-events/00000000-0000-0000-0000-000000000001/replay"),
    ("POST", "/api/v1/admin/b2b-profiles"),
    ("GET", "/api/v1/admin/b2b-groups"),
    ("POST", "/api/v1/issuer/sandbox/authorize"),
    ("POST", "/api/v1/issuer/sandbox/webhooks"),
]
CARDS_DISABLED = {"error": "Cards are not available on this installation", "code": "CARDS_DISABLED"}


def _values(name: str, value: object) -> dict[str, Any]:
    values: dict[str, Any] = {k.lower(): v for k, v in PRODUCTION.items()}
    if value is UNSET:
        values.pop(name.lower())
    else:
        values[name.lower()] = value
    return values


@pytest.mark.parametrize(("name", "value", "reason"), REFUSALS)
def test_production_refuses_what_is_only_for_development(
    name: str, value: object, reason: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, **_values(name, value))
    assert str(refused.value).startswith(reason)
    assert "\n" not in str(refused.value)


def test_the_production_settings_pass_and_development_keeps_its_defaults() -> None:
    ok = load_settings(_env_file=None, **_values("ISSUER", "none"))
    assert (ok.is_production, ok.tron_network, ok.cards_enabled) == (True, "nile", False)
    dev = load_settings(_env_file=None)  # `make run`: devnet and the sandbox, as before
    assert (dev.env, dev.tron_network, dev.issuer, dev.cards_enabled) == (
        "development",
        "devnet",
        "sandbox",
        True,
    )


def _environment(tmp_path: Path, database_url: str, **more: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "PUBLIC_BASE_URL"}}
    return {**clean, "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path / "var"), **more}


@pytest.mark.parametrize(("name", "value", "reason"), REFUSALS[:1] + REFUSALS[3:4] + REFUSALS[5:])
async def test_serve_exits_2_with_the_reason_in_one_line(
    tmp_path: Path, database_url: str, name: str, value: object, reason: str
) -> None:
    env = _environment(tmp_path, database_url, **PRODUCTION)
    if value is UNSET:
        env.pop(name)
    else:
        env[name] = str(value)
    process = await asyncio.create_subprocess_exec(
        PAYWARDEN,
        "serve",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2, (out, err)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert lines[0].startswith(f"configuration error: {reason}")


@pytest.fixture
async def production_server(tmp_path: Path, database_url: str) -> AsyncIterator[dict[str, str]]:
    """`paywarden serve` in production with ISSUER=none, as a real process."""
    port, metrics_port = free_port(), free_port()
    env = _environment(
        tmp_path,
        database_url,
        **PRODUCTION,
        TRONGRID_URL="http://127.0.0.1:9",  # never reached: no worker here
        LOG_LEVEL="WARNING",
    )
    args = ("--no-worker", "--metrics-port", str(metrics_port))
    async with serve_process(*args, port=port, env=env, cwd=tmp_path):
        yield {"base": f"http://127.0.0.1:{port}", "metrics": f"http://127.0.0.1:{metrics_port}"}


async def test_a_production_install_without_an_issuer_starts_cleanly(
    production_server: dict[str, str],
) -> None:
    base = production_server["base"]
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (await http.get("/readyz")).status_code == 200
        for path in ("/devnet/wallet/getnowblock", "/devnet/pay", "/sandbox-issuer/v1/health"):
            gone = await http.post(path, json={})
            assert (gone.status_code, gone.json()["code"]) == (404, "NOT_FOUND"), path
        cards = await http.get("/api/botcartd/cards")
        assert (cards.status_code, cards.json()) == (503, CARDS_DISABLED)
        assert (await http.get("/docs")).status_code == 200
        # No METRICS_TOKEN: not on the public port, only on 127.0.0.1:--metrics-port.
        assert (await http.get("/metrics")).status_code == 404
    async with httpx.AsyncClient(timeout=5) as http:
        scraped = await http.get(f"{production_server['metrics']}/metrics")
        assert scraped.status_code == 200
        assert "http_requests_total" in scraped.text
        assert scraped.headers["x-content-type-options"] == "nosniff"


@pytest.fixture
async def production_app(make_settings: Callable[..., Settings]) -> AsyncIterator[FastAPI]:
    app, lifespan = await start_app(make_settings(env="production", encryption_keys=ENCRYPTION_KEY))
    yield app
    await lifespan.__aexit__(None, None, None)


async def test_every_card_route_answers_503_cards_disabled(production_app: FastAPI) -> None:
    assert production_app.state.issuer is None
    mounts = {r.path for r in production_app.routes if isinstance(r, Mount)}
    assert not mounts & {"/devnet", "/sandbox-issuer"}
    async with client_for(production_app, https=True) as http:
        for method, path in CARD_ROUTES:
            response = await http.request(method, path, json={})
            assert (response.status_code, response.json()) == (503, CARDS_DISABLED), path
        # The gateway and the rest of the cards' back office still answer.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/api/v1/admin/clients")).status_code == 401


async def test_no_issuer_loops_without_an_issuer(production_app: FastAPI, app: FastAPI) -> None:
    alone = WorkerContext(db=production_app.state.db, gateway=production_app.state.gateway)
    names = {loop.name for loop in loops_for(alone)}
    assert names == {loop.name for loop in LOOPS if not loop.needs_issuer}
    assert not names & {"process_issuer_events", "expire_3ds_codes"}
    with_issuer = WorkerContext(db=app.state.db, gateway=app.state.gateway, issuer=app.state.issuer)
    assert loops_for(with_issuer) == LOOPS


async def test_development_mounts_the_devnet_and_the_sandbox(app: FastAPI) -> None:
    mounts = {r.path for r in app.routes if isinstance(r, Mount)}
    assert {"/devnet", "/sandbox-issuer"} <= mounts


@pytest.mark.parametrize(
    ("command", "what"), [("devnet", "the devnet"), ("sandbox-issuer", "the sandbox issuer")]
)
async def test_the_stand_ins_refuse_to_start_in_production(
    tmp_path: Path, database_url: str, command: str, what: str
) -> None:
    env = _environment(tmp_path, database_url, **PRODUCTION, ISSUER_API_KEY="k" * 24)
    process = await asyncio.create_subprocess_exec(
        PAYWARDEN,
        command,
        "--port",
        str(free_port()),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2, (out, err)
    assert err.decode().strip() == f"ENV=production: {what} is for development and tests only"
