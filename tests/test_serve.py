"""`paywarden serve --host/--port` without PUBLIC_BASE_URL (development): links follow the real
address; an explicit PUBLIC_BASE_URL always wins."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from paywarden.cli import bind, local_base_url
from paywarden.config import load_settings
from tests.conftest import TEST_XPUB
from tests.servers import free_port, serve_process

BOT_TOKEN = "bot-token-for-serve-tests-0123456789"


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104 (a bind address under test)
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("localhost", 8001, "http://localhost:8001"),
        ("10.0.0.5", 80, "http://10.0.0.5:80"),
    ],
)
def test_local_base_url(host: str, port: int, url: str) -> None:
    assert local_base_url(host, port) == url


def test_bind_derives_the_base_url_and_passes_it_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    settings = load_settings(_env_file=None)
    try:
        bind(settings, "0.0.0.0", 8123, None)  # noqa: S104
        assert settings.public_base_url == "http://127.0.0.1:8123"
        assert settings.issuer_base_url == "http://127.0.0.1:8123/sandbox-issuer"
        assert os.environ["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"  # for serve's processes
        assert load_settings(_env_file=None).public_base_url == "http://127.0.0.1:8123"
    finally:
        os.environ.pop("PUBLIC_BASE_URL", None)  # bind wrote it: keep it from other tests


def test_an_explicit_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pay.example.com")
    settings = load_settings(_env_file=None)
    bind(settings, None, 8123, 9999)
    assert (settings.public_base_url, settings.port, settings.metrics_port) == (
        "https://pay.example.com",
        8123,
        9999,
    )
    monkeypatch.delenv("PUBLIC_BASE_URL")
    given = load_settings(_env_file=None, public_base_url="http://127.0.0.1:8000")
    bind(given, None, 8123, None)
    assert given.public_base_url == "http://127.0.0.1:8000"  # set, even to the default value


def test_production_does_not_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    settings = load_settings(
        _env_file=None,
        env="production",
        secret_key="k" * 40,
        xpub=TEST_XPUB,
        tron_network="nile",
        issuer="none",
        encryption_keys="A" * 43 + "=",
    )
    bind(settings, None, 8123, None)
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert "PUBLIC_BASE_URL" not in os.environ


async def test_serve_on_another_port_gives_links_to_that_port(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    env.update(
        ENV="development",
        DATABASE_URL=database_url,
        VAR_DIR=str(tmp_path / "var"),
        DEMO_DATA="true",
        XPUB=TEST_XPUB,
        LOG_LEVEL="WARNING",
        BOT_API_TOKEN=BOT_TOKEN,
    )
    base = f"http://127.0.0.1:{port}"
    async with (
        serve_process("--no-worker", port=port, env=env, cwd=tmp_path),
        httpx.AsyncClient(base_url=base, timeout=5) as http,
    ):
        key = (tmp_path / "var" / "demo_api_key").read_text().strip()
        order = await http.post(
            "/api/v1/payments",
            headers={"X-API-Key": key, "Idempotency-Key": "serve-port-test"},
            json={"external_id": "port-test", "amount": "12.5"},
        )
        assert order.status_code == 201, order.text
        assert order.json()["checkout_url"] == f"{base}/pay/{order.json()['id']}"
        # The embedded sandbox issuer is reached at that port too: a card is issued there
        # (at the default port 8000 nothing answers: 502 ISSUER_UNAVAILABLE).
        bot = {"X-Bot-Token": BOT_TOKEN}
        made = await http.post(
            "/api/botcartd/clients", headers=bot, json={"external_user_id": "tg_4242"}
        )
        assert made.status_code in (200, 201), made.text
        card = await http.post(
            "/api/botcartd/cards",
            headers=bot,
            params={"external_user_id": "tg_4242"},
            json={"currency": "EUR", "monthly_limit": "100.00"},
        )
        assert card.status_code == 201, card.text
