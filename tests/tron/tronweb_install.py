"""Stock TronWeb for the tests that run it: node_modules as tests/tron/tronweb/package-lock.json
pins it, installed with `npm ci` when missing or older than the lock (as `make tronweb` does)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TRONWEB_DIR = Path(__file__).with_name("tronweb")
NO_NODE = "Node.js is not on PATH: stock TronWeb runs with node (Node 18+)"


def _installed() -> bool:
    modules = TRONWEB_DIR / "node_modules"
    lock = TRONWEB_DIR / "package-lock.json"
    return modules.is_dir() and modules.stat().st_mtime >= lock.stat().st_mtime


def install_tronweb() -> None:
    """npm ci once, under a file lock so that xdist workers don't install side by side."""
    with (Path(tempfile.gettempdir()) / "paywarden-tronweb-npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is on PATH but npm is not: run `make tronweb` (npm ci) first")
        done = subprocess.run(
            [npm, "ci", "--prefix", str(TRONWEB_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            pytest.fail(f"npm ci failed in {TRONWEB_DIR}:\n{done.stdout}\n{done.stderr}")
        (TRONWEB_DIR / "node_modules").touch()
