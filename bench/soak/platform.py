"""The platform under soak: settings shared by every process, the seed rows (a plan, an FX
rate, a merchant whose webhooks go to the receiver, an operator), the processes started as
deploy/Procfile starts them, and the checks on the database once the load has stopped."""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve
import httpx
from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from paywarden.audit.context import CLI
from paywarden.kit.db import Database
from paywarden.merchants import service as merchants
from paywarden.models import FxRate, Plan
from paywarden.tron import crypto
from paywarden.tron.keys import account_xpub

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from order_create import BENCH_KEYS, BIN, ServerConfig, free_port, server_env

from soak.processes import Proc, Supervisor

BOT_TOKEN = "soak-bot-token-" + secrets.token_hex(8)
BLOCK_SECONDS = 1
SOLIDIFY_DEPTH = 3
SETTLE_SECONDS = 2
# Retries of merchant webhooks: seconds, not hours, so that the queue drains within the run.
RETRY_DELAYS = "1,2,3,5,5,5,5,5,5"


def _address(private_key: bytes) -> str:
    return crypto.address_from_public_key(coincurve.PrivateKey(private_key).public_key)


@dataclass
class Ports:
    devnet: int
    sandbox: int
    proxy: int
    receiver: int
    replicas: list[int]

    @classmethod
    def pick(cls, replicas: int) -> Ports:
        return cls(
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            [free_port() for _ in range(replicas)],
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy}"

    @property
    def devnet_url(self) -> str:
        return f"http://127.0.0.1:{self.devnet}/devnet"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox}"


@dataclass
class Platform:
    url: str  # the fresh database
    cwd: Path
    ports: Ports
    env: dict[str, str]  # the API replicas'
    worker_env: dict[str, str]  # the workers': the replicas' plus the sweeping keys
    hot_wallet: str
    sup: Supervisor
    replicas: list[Proc]
    workers: list[Proc]


Envs = tuple[dict[str, str], dict[str, str], str]  # the replicas', the workers', the hot wallet


def environments(url: str, cwd: Path, ports: Ports, run: str) -> Envs:
    mnemonic = str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12))
    hot_key = secrets.token_bytes(32)
    env = server_env(url, cwd, ServerConfig(1, 10, 10, 2_000))
    env.update(
        XPUB=account_xpub(mnemonic),
        REDIS_URL="redis://127.0.0.1:6379/0",  # the replicas share the rate-limit counters
        RATE_LIMIT_PREFIX=f"soak-{run}",
        PUBLIC_BASE_URL=ports.base_url,
        TRON_NETWORK="devnet",
        TRONGRID_URL=ports.devnet_url,
        # The app's own embedded devnet stays idle (no blocks): the chain is the devnet process.
        DEVNET_BLOCK_SECONDS="0",
        DEVNET_SOLIDIFY_DEPTH=str(SOLIDIFY_DEPTH),
        SCAN_INTERVAL_SECONDS="1",
        ISSUER="sandbox",
        ISSUER_URL=ports.sandbox_url,
        ISSUER_API_KEY="soak-issuer-key-" + secrets.token_hex(8),
        ISSUER_WEBHOOK_SECRETS="soak-issuer-secret-" + secrets.token_hex(16),
        SANDBOX_CALLBACK_URL=ports.base_url,
        BOT_API_TOKEN=BOT_TOKEN,
        WEBHOOK_RETRY_DELAYS=RETRY_DELAYS,
        SWEEP_ENABLED="true",
        COLD_WALLET_ADDRESS=_address(secrets.token_bytes(32)),
        LOG_LEVEL="WARNING",
    )
    # Keys given to the workers only, as in production.
    worker_env = env | {"HOT_WALLET_KEY": hot_key.hex(), "SWEEP_SEED": mnemonic}
    return env, worker_env, _address(hot_key)


async def seed(url: str, receiver_port: int, webhook_secret: str) -> str:
    """The plan every client gets, an FX rate, and the merchant: its API key."""
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            session.add(
                Plan(
                    name="Soak",
                    monthly_fee=0,
                    cards_included=5,
                    max_active_cards=5,
                    card_issue_fee=0,
                    topup_fee_bps=150,
                    fx_fee_bps=100,
                    is_default=True,
                )
            )
            session.add(FxRate(eur_usd_micros=1_085_000, set_by="cli"))
            made = await merchants.create(
                session,
                name="soak merchant",
                webhook_secret=webhook_secret,
                webhook_url=f"http://127.0.0.1:{receiver_port}/webhooks",
                actor=CLI,
            )
    finally:
        await db.dispose()
    return made.api_key


PROCFILE = Path(__file__).resolve().parents[2] / "deploy" / "Procfile"
# What the soak runs when deploy/Procfile is absent: the same commands.
DEFAULT_PROCFILE = {
    "web": "paywarden serve --no-worker --host 127.0.0.1 --port $PORT",
    "worker": "paywarden worker",
    "devnet": "paywarden devnet --host 127.0.0.1 --port 8090",
    "sandbox-issuer": "paywarden sandbox-issuer --host 127.0.0.1 --port 8091",
}


def procfile() -> dict[str, str]:
    """`name: command` lines of deploy/Procfile (the deployment's process list), else ours."""
    if not PROCFILE.exists():
        return dict(DEFAULT_PROCFILE)
    out = {}
    for line in PROCFILE.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and not line.lstrip().startswith("#"):
            out[name.strip()] = command.strip()
    return {**DEFAULT_PROCFILE, **{k: v for k, v in out.items() if k in DEFAULT_PROCFILE}}


def _argv(command: str, port: int | None = None) -> list[str]:
    argv = shlex.split(command.replace("$PORT", str(port)) if port else command)
    if argv[0] == "paywarden":
        argv[0] = str(BIN / "paywarden")  # this virtualenv's
    return argv


def commands(ports: Ports) -> dict[str, list[str]]:
    """The Procfile's commands on this run's ports; the devnet's and the sandbox's options
    appended (a repeated option wins); and the proxy."""
    procs = procfile()
    proxy = [sys.executable, str(Path(__file__).with_name("proxy.py")), "--port", str(ports.proxy)]
    for port in ports.replicas:
        proxy += ["--upstream", str(port)]
    out = {
        "devnet": [
            *_argv(procs["devnet"]),
            *("--port", str(ports.devnet), "--block-seconds", str(BLOCK_SECONDS)),
            *("--solidify-depth", str(SOLIDIFY_DEPTH)),
        ],
        "sandbox": [
            *_argv(procs["sandbox-issuer"]),
            *("--port", str(ports.sandbox), "--callback-url", ports.base_url),
            *("--settle-seconds", str(SETTLE_SECONDS)),
        ],
        "worker": _argv(procs["worker"]),
        "proxy": proxy,
    }
    for n, port in enumerate(ports.replicas, 1):
        out[f"api{n}"] = _argv(procs["web"], port)
    return out


async def wait_http(url: str, proc: Proc, within: float = 120) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not answering {url} after {within:.0f} s:\n{proc.tail()}")


async def start(
    sup: Supervisor, url: str, cwd: Path, ports: Ports, workers: int, envs: Envs
) -> Platform:
    env, worker_env, hot = envs
    cmds = commands(ports)
    devnet = sup.add(Proc("devnet", cmds["devnet"], env, cwd, ports.devnet))
    sandbox = sup.add(Proc("sandbox", cmds["sandbox"], env, cwd, ports.sandbox))
    proxy = sup.add(Proc("proxy", cmds["proxy"], dict(os.environ), cwd, ports.proxy))
    await wait_http(f"{ports.devnet_url}/state", devnet)
    async with httpx.AsyncClient(timeout=10) as client:
        # TRX for the sweeps' fees, and for the paying customers' energy: each USDT transfer
        # burns ~13 TRX, and their 10,000 TRX would run out within minutes of a long soak.
        customers = (await client.get(f"{ports.devnet_url}/state")).json()["customers"]
        for address in [hot, *(c["address"] for c in customers)]:
            answer = await client.post(
                f"{ports.devnet_url}/faucet", json={"address": address, "trx": 10**12}
            )
            answer.raise_for_status()
    replicas = []
    for n, port in enumerate(ports.replicas, 1):
        replicas.append(sup.add(Proc(f"api{n}", cmds[f"api{n}"], env, cwd, port)))
    for proc in replicas:
        await wait_http(f"http://127.0.0.1:{proc.port}/readyz", proc)
    await wait_http(f"{ports.sandbox_url}/simulate/events", sandbox)
    await wait_http(f"{ports.base_url}/readyz", proxy)
    started = [
        sup.add(Proc(f"worker{n}", cmds["worker"], worker_env, cwd)) for n in range(1, workers + 1)
    ]
    return Platform(url, cwd, ports, env, worker_env, hot, sup, replicas, started)


# ---- after the load ---------------------------------------------------------------------------

PENDING_SQL = {
    "webhook deliveries pending": (
        "SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'delivering')"
    ),
    "orders not final": "SELECT count(*) FROM orders WHERE status IN ('pending', 'confirming')",
    "top-ups pending": "SELECT count(*) FROM topups WHERE status = 'pending'",
    "sweeps queued": "SELECT count(*) FROM sweeps WHERE status IN ('waiting', 'active')",
    "issuer events unprocessed": "SELECT count(*) FROM issuer_events WHERE status = 'received'",
}


def engine(url: str) -> AsyncEngine:
    return create_async_engine(url, poolclass=NullPool)


async def scalar(eng: AsyncEngine, sql: str, **params: Any) -> Any:
    async with eng.connect() as conn:
        return await conn.scalar(text(sql), params)


async def execute(eng: AsyncEngine, sql: str, **params: Any) -> None:
    async with eng.begin() as conn:
        await conn.execute(text(sql), params)


async def rows(eng: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with eng.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def pending(eng: AsyncEngine) -> dict[str, int]:
    return {name: int(await scalar(eng, sql) or 0) for name, sql in PENDING_SQL.items()}


async def drain(eng: AsyncEngine, within: float, log: Any) -> dict[str, int]:
    """Wait until every queue is empty (or `within` seconds have passed): what is left."""
    deadline = time.monotonic() + within
    last = ""
    while True:
        left = await pending(eng)
        line = ", ".join(f"{k} {v}" for k, v in left.items() if v)
        if not line or time.monotonic() > deadline:
            return left
        if line != last:
            log(f"  draining: {line}")
            last = line
        await asyncio.sleep(2)


async def redeliver_issuer_events(sandbox_url: str) -> int:
    """Send again every sandbox event the app never acknowledged (a replica killed under it), as
    a real issuer retries its webhooks: the app must take each once, however often it comes."""
    sent = 0
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as client:
        events = (await client.get("/simulate/events")).json()["data"]
        for event in events:
            if not any(d.startswith("2") for d in event["deliveries"]):
                await client.post("/simulate/duplicate", json={"event_id": event["event_id"]})
                sent += 1
    return sent
