"""The API process never loads the signer: importing `paywarden.app` and building the app, in a
fresh interpreter, leaves the sweeper, its keys and the worker out of `sys.modules`, and never
reads HOT_WALLET_KEY or SWEEP_SEED (a seed that is not XPUB's would fail a worker's start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_ENCRYPTION_KEY
from tests.servers import development_env

SIGNER_MODULES = ["paywarden.sweeps.keys", "paywarden.sweeps.tasks", "paywarden.worker"]
OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"

BUILD_THE_APP = """
import json, sys
from paywarden.app import create_app
from paywarden.config import load_settings
app = create_app(load_settings(_env_file=None))
assert app.routes
print(json.dumps(sorted(m for m in sys.modules if m in {modules})))
"""


def test_building_the_app_never_loads_the_signer(tmp_path: Path) -> None:
    env = development_env(
        f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        tmp_path / "var",
        ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        HOT_WALLET_KEY="11" * 32,
        SWEEP_SEED=OTHER_MNEMONIC,
    )
    run = subprocess.run(
        [sys.executable, "-c", BUILD_THE_APP.format(modules=repr(set(SIGNER_MODULES)))],
        cwd=tmp_path,  # no developer's .env
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
