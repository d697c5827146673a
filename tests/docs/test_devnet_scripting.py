"""docs/devnet-scripting.md's examples run as a reader would run them, against a devnet mounted at
/devnet as `make run` serves it: the Python with stock tronpy, the JavaScript with stock TronWeb
(tests/tron/tronweb's npm install) by Node, skipped only where Node is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from paywarden.tron.devnet import mount_devnet, new_chain
from tests.servers import serve_on_thread
from tests.tron.tronweb_install import NO_NODE, TRONWEB_DIR, install_tronweb

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "devnet-scripting.md"
WRITTEN_URL = "http://127.0.0.1:8000/devnet"
BLOCK_SECONDS = 0.2
NODE_TIMEOUT = 60


def examples(language: str) -> list[str]:
    found = re.findall(rf"^```{language}\n(.*?)^```$", PAGE.read_text(), re.MULTILINE | re.DOTALL)
    assert found, f"no {language} example in {PAGE.name}"
    return found


@pytest.fixture(scope="module")
def devnet_url() -> Iterator[str]:
    """A devnet under /devnet of an app served on a thread: tronpy's client is synchronous."""
    app = FastAPI()
    mount_devnet(app, "/devnet", chain=new_chain(2), block_seconds=BLOCK_SECONDS)
    with serve_on_thread(app) as url:
        yield f"{url}/devnet"


def test_the_python_example_runs_with_stock_tronpy(
    devnet_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for code in examples("python"):
        assert WRITTEN_URL in code
        code = code.replace(WRITTEN_URL, devnet_url)
        exec(compile(code, str(PAGE), "exec"), {"__name__": "guide"})  # noqa: S102
    printed = capsys.readouterr().out
    assert "TRX: 100" in printed
    assert "USDT transfer: SUCCESS" in printed


def test_the_javascript_example_runs_with_stock_tronweb(devnet_url: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip(NO_NODE)
    install_tronweb()
    (tmp_path / "node_modules").symlink_to(TRONWEB_DIR / "node_modules")
    for i, code in enumerate(examples("js")):
        script = tmp_path / f"example{i}.mjs"
        script.write_text(code.replace(WRITTEN_URL, devnet_url))
        done = subprocess.run(
            [node, str(script)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "TRX sent: true" in done.stdout, done.stdout
        assert "USDT transfer: SUCCESS" in done.stdout, done.stdout
