"""deploy/ stays true to the code: its command lines parse with the real CLI, its variables are
settings that make a valid production configuration, the signing keys reach the worker alone,
nginx and the app agree on forwarded addresses and body sizes, and the units and the proxy
configuration pass their own tools' checks where those tools are installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.fernet import Fernet

from paywarden.cli import app as cli
from paywarden.config import Settings, load_settings
from paywarden.kit.health import router as health_router
from paywarden.sweeps import keys as sweep_keys

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROCFILE = DEPLOY / "Procfile"
NGINX = DEPLOY / "nginx.conf"
SHARED_ENV = DEPLOY / "paywarden.env.example"
WORKER_ENV = DEPLOY / "paywarden-worker.env.example"
UNITS = sorted(DEPLOY.glob("paywarden*.service"))
TARGET = DEPLOY / "paywarden.target"
# Where the units expect the install (a checkout with its venv, as `make install` makes it).
INSTALLED = "/opt/paywarden/.venv/bin/paywarden"
PAYWARDEN = Path(sys.executable).with_name("paywarden")
# What the sweeper alone reads (paywarden/sweeps/keys.py): never in a web replica's environment.
SIGNING_KEYS = {"HOT_WALLET_KEY", "SWEEP_SEED", "SWEEP_SEED_FILE"}
# Sample values for the placeholders: the runner's $PORT, a unit's instance %i.
SAMPLE_PORT = "8001"
DEV_ONLY = {"devnet", "sandbox-issuer"}
# `KEY=value`, or commented out as an alternative (`# KEY=value`).
ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def procfile() -> dict[str, str]:
    """name -> command, as honcho and foreman read it."""
    entries = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def directives(unit: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def command_lines() -> list[tuple[str, list[str]]]:
    """(where, the words after `paywarden`) of every command line in deploy/, placeholders
    filled as the runner and systemd fill them."""
    found = [(f"Procfile {name}", command) for name, command in procfile().items()]
    found += [(u.name, line) for u in UNITS for line in directives(u, "ExecStart")]
    lines = []
    for where, line in found:
        words = shlex.split(line.replace("$PORT", SAMPLE_PORT).replace("%i", SAMPLE_PORT))
        assert Path(words[0]).name == "paywarden", f"{where}: {line}"
        lines.append((where, words[1:]))
    return lines


def parse(args: list[str]) -> typer.Context:
    """The real CLI's parse of `paywarden ARGS` down to its (sub)command: every option known,
    of its type and in its range, or an error raised; nothing run."""
    command: Any = typer.main.get_command(cli)  # typer's own click: duck-typed groups
    name = "paywarden"
    while args and args[0] in getattr(command, "commands", {}):
        name, command, args = args[0], command.commands[args[0]], args[1:]
    assert not hasattr(command, "commands") or not args or args[0].startswith("-"), args
    return command.make_context(name, list(args))


def env_example(path: Path, *, commented: bool = False) -> dict[str, str]:
    """The assignments of an env file as systemd reads them (quotes stripped)."""
    return {
        name: value.strip().removeprefix('"').removesuffix('"')
        for hash_, name, value in ENV_LINE.findall(path.read_text())
        if commented or not hash_
    }


def settings_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def nginx() -> str:
    """The configuration without its comments."""
    return re.sub(r"#[^\n]*", "", NGINX.read_text())


@pytest.mark.parametrize(("where", "args"), command_lines(), ids=[w for w, _ in command_lines()])
def test_every_command_line_parses_with_the_real_cli(where: str, args: list[str]) -> None:
    ctx = parse(args)  # an unknown option, a bad type or range raises here
    assert ctx.info_name == args[0], where
    if ctx.info_name == "serve":  # replicas: the background work is the workers'
        assert ctx.params["no_worker"] is True, where
        assert ctx.params["host"] == "127.0.0.1", where
        assert ctx.params["port"] == int(SAMPLE_PORT), where


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--no-worker", "--replicas", "2"],
        ["serve", "--port", "http"],
        ["serve", "--metrics-port", "80010"],  # a replica on port 80010: no room for 1<port>
        ["worker", "-x"],
    ],
)
def test_the_check_refuses_what_the_cli_would(args: list[str]) -> None:
    with pytest.raises(Exception, match=r"No such option|valid integer|less than"):
        parse(args)


def test_deploy_runs_each_process_the_platform_has() -> None:
    assert set(procfile()) == {"web", "worker", "bot", *DEV_ONLY}
    started = {words[0] for _, words in command_lines()}
    assert started == {"serve", "worker", "migrate", "bot", *DEV_ONLY}


def test_development_stand_ins_stay_out_of_production() -> None:
    text = PROCFILE.read_text()
    marker = text.index("DEVELOPMENT ONLY")
    for name in procfile():
        at = text.index(f"\n{name}:")
        assert (at > marker) == (name in DEV_ONLY), name
    for u in [*UNITS, TARGET]:
        assert not DEV_ONLY & set(re.findall(r"paywarden ([a-z-]+)", u.read_text())), u.name


def test_an_appended_option_wins_as_the_procfile_says() -> None:
    """The soak appends faster devnet timings to the Procfile's command: the last one counts."""
    words = shlex.split(procfile()["devnet"])[1:]
    ctx = parse([*words, "--block-seconds", "1", "--solidify-depth", "3"])
    assert (ctx.params["block_seconds"], ctx.params["solidify_depth"]) == (1.0, 3)


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.env.example")), ids=lambda p: p.name)
def test_env_examples_name_only_settings(path: Path) -> None:
    named = set(env_example(path, commented=True))
    assert named, path.name
    assert named - settings_names() == set()


def test_env_examples_make_a_production_configuration() -> None:
    """Both files together, the REQUIRED blanks filled, start in production; the worker's
    keys as shipped (empty) load as "no hot wallet" rather than a configuration error."""
    values = {**env_example(SHARED_ENV), **env_example(WORKER_ENV)}
    required = {
        "SECRET_KEY": "s" * 48,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "XPUB": "xpub-of-the-operators-wallet",
    }
    assert all(values[name] == "" for name in required)  # no sample secret to copy
    settings = load_settings(
        _env_file=None, **{k.lower(): v for k, v in {**values, **required}.items()}
    )
    assert settings.is_production
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.redis_url
    assert sweep_keys.load(settings, settings.xpub or "") is None


def test_signing_keys_reach_the_worker_alone() -> None:
    assert set(env_example(WORKER_ENV, commented=True)) == SIGNING_KEYS
    assert SIGNING_KEYS.isdisjoint(env_example(SHARED_ENV, commented=True))
    for u in UNITS:
        files = directives(u, "EnvironmentFile")
        assert files[0] == "/etc/paywarden/paywarden.env", u.name
        if u.name == "paywarden-worker@.service":
            assert files == ["/etc/paywarden/paywarden.env", "/etc/paywarden/worker.env"]
            assert directives(u, "User") == ["paywarden-worker"]  # not the replicas' user
        else:  # even a key pasted into the shared file by mistake is dropped
            assert len(files) == 1, u.name
            assert set(" ".join(directives(u, "UnsetEnvironment")).split()) >= SIGNING_KEYS
            assert directives(u, "User") == ["paywarden"], u.name


def test_units_are_hardened_and_restart() -> None:
    for u in UNITS:
        text = u.read_text()
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert f"\n{line}\n" in text, f"{u.name}: {line}"
        assert directives(u, "ExecStart")[0].startswith(INSTALLED + " "), u.name
        if u.name != "paywarden-migrate.service":
            assert directives(u, "Restart") == ["on-failure"], u.name
            assert directives(u, "RestartPreventExitStatus") == ["2"], u.name  # config error
            assert "paywarden-migrate.service" in directives(u, "Requires"), u.name


def test_nginx_forwards_what_the_app_trusts() -> None:
    conf = nginx()
    # The replicas listen on 127.0.0.1, the address the app trusts forwarded headers from.
    trusted = env_example(SHARED_ENV)["FORWARDED_ALLOW_IPS"].split(",")
    upstreams = re.findall(r"^\s*server (\S+):(\d+)\b", conf, re.MULTILINE)
    assert upstreams
    assert {host for host, _ in upstreams} <= set(trusted) - {"*"}
    # The client's address replaces any X-Forwarded-For it sent (uvicorn reads the last one).
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", conf)
    assert re.search(r"proxy_set_header X-Forwarded-Proto \$scheme;", conf)
    assert "$proxy_add_x_forwarded_for" not in conf
    # Neither the metrics route nor a replica's metrics port (1<port>) is proxied.
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    for _, port in upstreams:
        assert f":1{port}" not in conf


def test_nginx_checks_routes_the_app_serves() -> None:
    served = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    assert {"/healthz", "/readyz"} <= served
    proxied = re.findall(r"location = (/\S+) \{[^}]*proxy_pass", nginx())
    assert proxied
    assert set(proxied) <= served


def test_nginx_body_limit_sits_just_above_the_apps() -> None:
    size, unit_ = re.findall(r"client_max_body_size (\d+)([kKmM]?);", nginx())[0]
    limit = int(size) * {"": 1, "k": 1024, "m": 1024**2}[unit_.lower()]
    app = Settings(_env_file=None)  # type: ignore[call-arg]
    largest = max(app.max_body_bytes, app.banner_upload_max_bytes, app.b2b_upload_max_bytes)
    # Above: the app answers its own JSON 413 for each route. Not far above: nginx buffers it.
    assert largest <= limit <= 2 * largest


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for u in [*UNITS, TARGET]:  # the real binary where the install would put it
        (tmp_path / u.name).write_text(u.read_text().replace(INSTALLED, str(PAYWARDEN)))
    instances = {"paywarden-web@.service": SAMPLE_PORT, "paywarden-worker@.service": "1"}
    names = []
    for template, instance in instances.items():
        name = template.replace("@.", f"@{instance}.")
        (tmp_path / name).symlink_to(tmp_path / template)
        names.append(name)
    names += [u.name for u in [*UNITS, TARGET] if "@" not in u.name]
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{name}" for name in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    # Unknown keys and bad values are only warnings: any line about our units fails.
    assert [line for line in output.splitlines() if "paywarden" in line] == []


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx not installed (not needed to run)")
def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    from tests.kit.test_netguard import _certificate

    cert, key = _certificate("pay.example.com")
    (tmp_path / "fullchain.pem").write_bytes(cert)
    (tmp_path / "privkey.pem").write_bytes(key)
    site = NGINX.read_text().replace("/etc/letsencrypt/live/pay.example.com", str(tmp_path))
    (tmp_path / "paywarden.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {tmp_path}/paywarden.conf;\n}}\n"
    )
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
