"""`paywarden serve --host/--port` without PUBLIC_BASE_URL (development): links follow the real
address; an explicit PUBLIC_BASE_URL always wins. `serve` keeps one `paywarden worker` child
process (restarted when it dies, stopped with the server); `--no-worker` starts none."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from paywarden.cli import bind, local_base_url
from paywarden.config import load_settings
from tests.conftest import TEST_XPUB
from tests.servers import PAYWARDEN, development_env, free_port, serve_process, worker_children

BOT_TOKEN = "bot-token-for-serve-tests-0123456789"
OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


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
        serve_process("--no-worker", port=port, env=env, cwd=tmp_path) as server,
        httpx.AsyncClient(base_url=base, timeout=5) as http,
    ):
        assert worker_children(server.pid) == []
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


async def _one_worker(serve_pid: int, log: Path, *, other_than: int | None = None) -> int:
    """The pid of serve's only worker child (a new one when `other_than` is given)."""
    try:
        async with asyncio.timeout(30):
            while True:
                found = worker_children(serve_pid)
                assert len(found) <= 1, found
                if found and found[0] != other_than:
                    return found[0]
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"no worker child:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text()[-4000:]


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def _gone(pid: int) -> bool:
    for _ in range(100):
        if not running(pid):
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.parametrize(
    ("args", "stop_with"),
    [((), signal.SIGINT), (("--workers", "2"), signal.SIGTERM)],
    ids=["one-server-process-ctrl-c", "two-server-processes-sigterm"],
)
async def test_serve_keeps_one_worker_child_and_stops_it(
    tmp_path: Path, database_url: str, args: tuple[str, ...], stop_with: signal.Signals
) -> None:
    port = free_port()
    env = development_env(
        database_url,
        tmp_path / "var",
        DEMO_DATA="false",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DEVNET_BLOCK_SECONDS="0",
    )
    log = tmp_path / "serve.log"
    async with serve_process(*args, port=port, env=env, cwd=tmp_path) as server:
        first = await _one_worker(server.pid, log)
        os.kill(first, signal.SIGKILL)  # a worker that dies is started again, after a pause
        second = await _one_worker(server.pid, log, other_than=first)
        assert "child_died" in tail(log)
        server.send_signal(stop_with)
        assert await asyncio.wait_for(server.wait(), 30) == 0, tail(log)
        assert await _gone(second), "the worker outlived serve"


async def test_a_worker_whose_serve_was_killed_stops_by_itself(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    env = development_env(
        database_url, tmp_path / "var", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"
    )
    log = tmp_path / "serve.log"
    async with serve_process(port=port, env=env, cwd=tmp_path) as server:
        worker = await _one_worker(server.pid, log)
        server.kill()  # no chance to stop its child: the child sees its parent gone
        await server.wait()
        assert await _gone(worker), "an orphaned worker kept running"


async def test_a_worker_that_cannot_start_stops_serve(tmp_path: Path, database_url: str) -> None:
    """Keys that do not fit (a seed that is not XPUB's) stop `serve` as at any start, though
    only its worker child reads them."""
    port = free_port()
    env = development_env(
        database_url,
        tmp_path / "var",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HOT_WALLET_KEY="11" * 32,
        SWEEP_SEED=OTHER_MNEMONIC,
    )
    command = [PAYWARDEN, "serve", "--port", str(port)]
    serve = await asyncio.to_thread(
        subprocess.run, command, cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    output = serve.stdout + serve.stderr
    assert serve.returncode == 2, output.decode()[-4000:]
    assert b"SWEEP_SEED does not match XPUB" in output
    assert b"the worker could not start" in output
