"""`paywarden devnet` runs the devnet alone, with its TronGrid API under /devnet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from paywarden.cli import app


def test_devnet_command_is_documented() -> None:
    result = CliRunner().invoke(app, ["devnet", "--help"])
    assert result.exit_code == 0
    assert "--block-seconds" in result.output
    assert "--solidify-depth" in result.output


def test_devnet_command_serves_and_mines_blocks() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "paywarden.cli", "devnet", "--port", str(port)]
    command += ["--block-seconds", "0.2", "--solidify-depth", "2"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    try:
        base = f"http://127.0.0.1:{port}/devnet"
        deadline = time.monotonic() + 20
        number = 0
        while time.monotonic() < deadline:
            try:
                block = httpx.post(f"{base}/wallet/getnowblock").json()
                number = block["block_header"]["raw_data"].get("number", 0)
                if number >= 3:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert number >= 3  # blocks come on their own
        state = httpx.get(f"{base}/state").json()
        assert state["solidify_depth"] == 2
        assert state["solidified"]["number"] >= state["head"]["number"] - 2
    finally:
        process.terminate()
        process.wait(timeout=10)
