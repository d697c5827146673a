"""`paywarden sandbox-issuer` runs the sandbox issuer alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from paywarden.cli import app

AUTH = "Bearer cli-key"


def test_the_command_is_documented() -> None:
    result = CliRunner().invoke(app, ["sandbox-issuer", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--callback-url", "--secret", "--settle-seconds"):
        assert option in result.output


def test_the_command_serves_the_issuer_api(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        VAR_DIR=str(tmp_path),
        ISSUER_API_KEY="cli-key",
        ISSUER_WEBHOOK_SECRETS="cli-secret",
    )
    command = [sys.executable, "-m", "paywarden.cli", "sandbox-issuer", "--port", str(port)]
    command += ["--callback-url", "http://127.0.0.1:9"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{base}/v1/health", headers={"Authorization": AUTH})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"{base}/v1/health").status_code == 401
        card = httpx.post(
            f"{base}/v1/cards",
            json={"reference": "r", "currency": "USD", "monthly_limit": "10.00"},
            headers={"Authorization": AUTH},
        )
        assert card.status_code == 201
        # The callback URL is down: the purchase is a stand-in decline, not an error.
        purchase = httpx.post(
            f"{base}/simulate/purchase",
            json={"card_id": card.json()["id"], "amount": "1.00", "currency": "USD"},
        )
        assert purchase.json()["response_code"] == "91"
    finally:
        process.terminate()
        process.wait(timeout=10)
