"""The first-operator hint in the log is a command a newcomer can paste: run by a real shell,
the token's reference (variable or generated file) expands into the header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from paywarden.app import bootstrap_command
from paywarden.config import Settings

# `curl` replaced by a function printing its arguments, one a line: what curl would be given.
SHIM = 'curl() { printf "%s\\n" "$@"; }; '


def _as_pasted(command: str, **env: str) -> list[str]:
    done = subprocess.run(
        ["/bin/bash", "-c", SHIM + command],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return done.stdout.splitlines()


def _check(args: list[str], token: str) -> None:
    assert f"X-Admin-Token: {token}" in args
    body = json.loads(args[args.index("-d") + 1])
    assert set(body) == {"email", "password"}
    assert args[2].endswith("/api/v1/admin/auth/bootstrap")


def test_the_generated_token_file_expands(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(admin_bootstrap_token=None)
    token = settings.bootstrap_token()  # development: generated into var/bootstrap_token
    assert token
    command = bootstrap_command(settings)
    assert token not in command  # referenced, never printed
    _check(_as_pasted(command), token)


def test_the_variable_expands(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(admin_bootstrap_token="from-the-environment-0123456789abcdef")
    command = bootstrap_command(settings)
    assert "from-the-environment" not in command
    _check(
        _as_pasted(command, ADMIN_BOOTSTRAP_TOKEN="from-the-environment-0123456789abcdef"),
        "from-the-environment-0123456789abcdef",
    )


def test_the_line_in_the_log_pastes(tmp_path: Path) -> None:
    """As printed under the development log's event: the line runs as it is."""
    script = (
        "from paywarden.app import _print_bootstrap_hint\n"
        "from paywarden.config import load_settings\n"
        "from paywarden.kit.logging import configure_logging\n"
        "settings = load_settings()\n"
        "configure_logging(json=False)\n"
        "_print_bootstrap_hint(settings)\n"
    )
    env = {
        **os.environ,
        "ENV": "development",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}",
    }
    env.pop("ADMIN_BOOTSTRAP_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    lines = done.stderr.splitlines()
    [at] = [n for n, line in enumerate(lines) if "no_operator_yet" in line]
    pasted = lines[at + 1]  # the command, on the line after the event, as it is
    token = (tmp_path / "var" / "bootstrap_token").read_text().strip()
    _check(_as_pasted(pasted), token)
