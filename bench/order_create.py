"""Benchmark: merchant order creation (POST /api/v1/payments) over real HTTP on PostgreSQL.

Each run makes a fresh database, migrates it, starts `paywarden serve --no-worker` as a
subprocess and creates a merchant; every request has a unique external_id (so every success is
a 201 and a new order). By default the load is an open loop (bench/open_loop.py): orders arrive
at R per second whatever the server does, as shoppers' checkouts do, each latency counted from
when the order was due, for --seconds at each of --rates; it prints p50/p99 per rate and the
highest rate whose p99 stays at or under 150 ms.

With --closed, N keep-alive clients always waiting instead, for a fixed time: that measures
queueing at saturation (with N clients waiting, mean latency is N / throughput, Little's law).
Its load comes from `wrk` (C, Lua script) when installed, else from an httpx client in this
process, and each run prints the CPU the server, PostgreSQL and the generator spent per order.

    .venv/bin/python bench/order_create.py [--rates 200,400,600] [--seconds 20]
        [--workers 1] [--pool-size 5] [--max-overflow 10] [--no-pre-ping]
    .venv/bin/python bench/order_create.py --closed [--duration 20] [--clients 50] [--runs 1]
        [--generator auto|wrk|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import open_loop
from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum
from cryptography.fernet import Fernet
from open_loop import Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from paywarden.addresses import service as addresses
from paywarden.addresses.service import Pool
from paywarden.audit.context import CLI
from paywarden.kit.crypto import KeySet
from paywarden.kit.db import Database
from paywarden.merchants import service as merchants
from paywarden.tron.keys import account_xpub

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BIN = Path(sys.executable).parent
TARGET_RATE = 400.0  # orders/s
TARGET_P99_MS = 150.0
PATH = "/api/v1/payments"
WARMUP_ORDERS = 200  # the open loop's, not counted
# Secrets at rest: the servers and the benchmark's own sessions encrypt under this one key.
ENCRYPTION_KEY = Fernet.generate_key().decode()
BENCH_KEYS = KeySet.parse(ENCRYPTION_KEY)

# One request per call of request(); `run`, `id` (thread) and a counter make external_id unique.
# The done() hook sums the per-thread non-201 counts and prints one machine-readable line.
WRK_SCRIPT = """
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  run = args[1]
  api_key = args[2]
  sent = 0
  non201 = 0
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"external_id":"%s-%d-%d","amount":"12.5","expires_in":3600}', run, id, sent)
  return wrk.format("POST", nil,
    {["Content-Type"] = "application/json", ["X-API-Key"] = api_key}, body)
end

function response(status, headers, body)
  if status ~= 201 then non201 = non201 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non201") end
  local e = summary.errors
  io.write(string.format(
    "PW_RESULT requests=%d duration_us=%d non201=%d socket_errors=%d " ..
    "p50_us=%d p95_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds spent during the measured phase, by who spent them (Linux /proc)."""

    server: float  # the serve process and its workers
    postgres: float  # the backends serving the benchmark's database
    generator: float  # wrk, or this process for the httpx generator
    machine: float  # all processes: the others are the rest

    @property
    def others(self) -> float:
        return max(0.0, self.machine - self.server - self.postgres - self.generator)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int  # non-201 answers plus socket errors and timeouts
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu: CpuUse | None = None

    @property
    def rate(self) -> float:
        """Orders made per second (successful creates only)."""
        return (self.requests - self.errors) / self.seconds


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    pool_size: int
    max_overflow: int
    address_pool: int
    pre_ping: bool = True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class CpuMeter:
    """Samples /proc before and after the measured phase; a no-op where there is no /proc."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database
        self.available = Path("/proc/stat").exists()

    def sample(self) -> dict[str, float]:
        if not self.available:
            return {}
        totals = {"server": 0.0, "postgres": 0.0}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            stat = _proc_stat(pid)
            if stat is None:
                continue
            parent, seconds = stat
            if self.server_pid in (int(pid), parent):
                totals["server"] += seconds
            elif f" {self.database} " in _cmdline(pid):  # "postgres: user db host(port) state"
                totals["postgres"] += seconds
        cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        totals["machine"] = (sum(cpu) - cpu[3] - cpu[4]) / CLOCK_TICKS  # all but idle, iowait
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        own = resource.getrusage(resource.RUSAGE_SELF)  # the httpx generator
        totals["generator"] = sum((u.ru_utime + u.ru_stime) for u in (children, own))
        return totals

    def between(self, before: dict[str, float], after: dict[str, float]) -> CpuUse | None:
        if not before or not after:
            return None
        delta = {key: after[key] - before[key] for key in before}
        return CpuUse(**delta)


async def admin_sql(statement: str) -> None:
    engine = create_async_engine(POSTGRES, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    name = f"pw_bench_{uuid.uuid4().hex[:8]}"
    await admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


def server_env(url: str, var_dir: Path, config: ServerConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XPUB", "ADMIN_EMAIL", "REDIS_URL")}
    env.update(
        DATABASE_URL=url,
        ENV="development",
        LOG_LEVEL="WARNING",
        VAR_DIR=str(var_dir),
        # Resolved here once, so that several server processes share one secret and one xpub.
        SECRET_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEYS=ENCRYPTION_KEY,
        XPUB=account_xpub(
            str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12))
        ),
        ADDRESS_POOL_MIN_FREE=str(config.address_pool),
        MERCHANT_RATE_LIMIT="100000/second",
        DEMO_DATA="false",
        DB_POOL_SIZE=str(config.pool_size),
        DB_MAX_OVERFLOW=str(config.max_overflow),
        DB_POOL_PRE_PING=str(config.pre_ping).lower(),
    )
    return env


async def fill_address_pool(url: str, env: dict[str, str]) -> None:
    """Derive the server's free addresses here, before it starts (its own top-up then has none
    to add, and several workers don't each derive a pool at once)."""
    pool = Pool(
        xpub=env["XPUB"],
        min_free=int(env["ADDRESS_POOL_MIN_FREE"]),
        reuse_cooldown=timedelta(days=1),
    )
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            await addresses.top_up(session, pool)
    finally:
        await db.dispose()


async def free_addresses(url: str) -> int:
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            query = "SELECT count(*) FROM deposit_addresses WHERE status = 'free'"
            return int(await session.scalar(text(query)) or 0)
    finally:
        await db.dispose()


def migrate(env: dict[str, str], cwd: Path) -> None:
    subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "paywarden"), "migrate"], env=env, cwd=cwd, check=True, capture_output=True
    )


@contextlib.contextmanager
def running_server(
    env: dict[str, str], cwd: Path, port: int, workers: int
) -> Iterator[subprocess.Popen[bytes]]:
    command = [str(BIN / "paywarden"), "serve", "--port", str(port), "--no-worker"]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = (cwd / "server.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # the address pool top-up runs before the first request
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"server exited:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"server not ready after 120 s:\n{tail(log)}")


@dataclass(frozen=True)
class Served:
    url: str  # the fresh database
    base_url: str
    server: subprocess.Popen[bytes]


@contextlib.asynccontextmanager
async def served(config: ServerConfig, **extra_env: str) -> AsyncIterator[Served]:
    """A fresh, migrated database with its address pool filled, and `serve --no-worker` on it,
    answering; both gone on exit (a warning if the run drained the address pool)."""
    with tempfile.TemporaryDirectory(prefix="pw_bench_") as tmp:
        cwd = Path(tmp)
        async with fresh_database() as url:
            env = server_env(url, cwd, config) | extra_env
            migrate(env, cwd)
            await fill_address_pool(url, env)
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with running_server(env, cwd, port, config.workers) as server:
                await wait_ready(base_url, server, cwd / "server.log")
                yield Served(url, base_url, server)
            if await free_addresses(url) == 0:
                print("  warning: the address pool ran dry; raise --address-pool", flush=True)


async def create_merchant(url: str) -> str:
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            made = await merchants.create(
                session,
                name="bench merchant",
                webhook_secret=secrets.token_urlsafe(32),
                webhook_url=None,
                actor=CLI,
            )
    finally:
        await db.dispose()
    return made.api_key


def run_wrk(base_url: str, api_key: str, clients: int, seconds: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        command = [
            "wrk",
            "-t1",  # one thread sustains far more than this server; leave the CPU to it
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            script.name,
            base_url + PATH,
            "--",
            uuid.uuid4().hex[:8],
            api_key,
        ]
        done = subprocess.run(  # noqa: S603 - wrk found on PATH, fixed arguments
            command, capture_output=True, text=True, check=True
        )
    finally:
        Path(script.name).unlink()
    match = re.search(r"PW_RESULT (.*)", done.stdout)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{done.stdout}\n{done.stderr}")
    fields = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    return LoadResult(
        requests=fields["requests"],
        errors=fields["non201"] + fields["socket_errors"],
        seconds=fields["duration_us"] / 1e6,
        p50_ms=fields["p50_us"] / 1000,
        p95_ms=fields["p95_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
    )


async def run_httpx(base_url: str, api_key: str, clients: int, seconds: float) -> LoadResult:
    run = uuid.uuid4().hex[:8]
    timings: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-API-Key": api_key}, limits=limits, timeout=5
    ) as client:
        started = time.perf_counter()
        stop_at = started + seconds

        async def one_client(n: int) -> None:
            nonlocal errors
            sent = 0
            while time.perf_counter() < stop_at:
                sent += 1
                body = {"external_id": f"{run}-{n}-{sent}", "amount": "12.5", "expires_in": 3600}
                t0 = time.perf_counter()
                try:
                    response = await client.post(PATH, json=body)
                    ok = response.status_code == 201
                except httpx.HTTPError:
                    ok = False
                timings.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(one_client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return LoadResult(
        requests=len(timings),
        errors=errors,
        seconds=elapsed,
        p50_ms=percentile(timings, 0.50) * 1000,
        p95_ms=percentile(timings, 0.95) * 1000,
        p99_ms=percentile(timings, 0.99) * 1000,
    )


async def drive(
    generator: str, base_url: str, api_key: str, clients: int, seconds: float
) -> LoadResult:
    if generator == "wrk":
        return await asyncio.to_thread(run_wrk, base_url, api_key, clients, seconds)
    return await run_httpx(base_url, api_key, clients, seconds)


async def one_run(args: argparse.Namespace, config: ServerConfig, generator: str) -> LoadResult:
    async with served(config) as run:
        api_key = await create_merchant(run.url)
        if args.warmup > 0:
            await drive(generator, run.base_url, api_key, args.clients, args.warmup)
        meter = CpuMeter(run.server.pid, make_url(run.url).database or "")
        before = meter.sample()
        result = await drive(generator, run.base_url, api_key, args.clients, args.duration)
        return replace(result, cpu=meter.between(before, meter.sample()))


def order_requests(api_key: str, count: int) -> list[Request]:
    run = uuid.uuid4().hex[:8]
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    return [
        Request(
            "POST",
            PATH,
            f'{{"external_id":"{run}-{n}","amount":"12.5","expires_in":3600}}'.encode(),
            headers,
        )
        for n in range(count)
    ]


def created(status: int, _: bytes) -> str:
    return "201" if status == 201 else f"http_{status}"


async def open_loop_run(args: argparse.Namespace, config: ServerConfig) -> None:
    """Each rate of --rates for --seconds against one server, after a warm-up."""
    async with served(config) as run:
        api_key = await create_merchant(run.url)
        await open_loop.run(run.base_url, order_requests(api_key, WARMUP_ORDERS), 100, created)
        results = []
        for rate in args.rates:
            batch = order_requests(api_key, int(rate * args.seconds))
            results.append(await open_loop.run(run.base_url, batch, rate, created))
            print(results[-1].line(), flush=True)
        print(open_loop.highest_within(results, TARGET_P99_MS), flush=True)


def report_run(n: int, r: LoadResult) -> None:
    print(
        f"run {n}: {r.requests:6d} requests  {r.errors:4d} errors (non-201)  "
        f"{r.rate:7.1f} orders/s   p50 {r.p50_ms:6.1f} ms  p95 {r.p95_ms:6.1f} ms  "
        f"p99 {r.p99_ms:6.1f} ms",
        flush=True,
    )
    if r.cpu is not None:
        made = max(1, r.requests - r.errors)
        per_order = {
            "server": r.cpu.server,
            "postgres": r.cpu.postgres,
            "load generator": r.cpu.generator,
            "other processes": r.cpu.others,
        }
        shares = "  ".join(f"{k} {1000 * v / made:.2f}" for k, v in per_order.items())
        print(
            f"       CPU ms per order: {shares}; machine busy "
            f"{r.cpu.machine / r.seconds:.2f} of {os.cpu_count()} CPUs",
            flush=True,
        )


def report_median(results: list[LoadResult]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    rate = med([r.rate for r in results])
    p99 = med([r.p99_ms for r in results])
    print(
        f"median of {len(results)}: {med([r.requests for r in results]):8.0f} requests  "
        f"{med([r.errors for r in results]):4.0f} errors  {rate:7.1f} orders/s   "
        f"p50 {med([r.p50_ms for r in results]):6.1f} ms  "
        f"p95 {med([r.p95_ms for r in results]):6.1f} ms  p99 {p99:6.1f} ms"
    )
    met = rate >= TARGET_RATE and p99 <= TARGET_P99_MS
    print(
        f"target >= {TARGET_RATE:.0f} orders/s with p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'}"
    )


async def main(args: argparse.Namespace) -> None:
    if args.address_pool is None:  # every order a run may create has its own address
        opened = WARMUP_ORDERS + sum(rate * args.seconds for rate in args.rates)
        args.address_pool = max(15_000, int(opened * 1.1))
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "httpx"
    elif generator == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk), or use --generator httpx")
    config = ServerConfig(
        workers=args.workers,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        address_pool=args.address_pool,
        pre_ping=not args.no_pre_ping,
    )
    if args.closed:
        load = (
            f"{args.clients} clients x {args.duration:g} s (after {args.warmup:g} s warm-up), "
            f"generator {generator}"
        )
    else:
        rates = ", ".join(f"{r:g}" for r in args.rates)
        load = f"orders arriving at {rates} per second, {args.seconds:g} s each (open loop)"
    print(
        f"POST {PATH}: {load}, {os.cpu_count()} CPUs shared by generator, server and "
        f"PostgreSQL\nserver: paywarden serve --no-worker, workers={config.workers}, "
        f"db pool {config.pool_size}+{config.max_overflow} per worker "
        f"(pre-ping {'on' if config.pre_ping else 'off'}), {config.address_pool} free addresses",
        flush=True,
    )
    if not args.closed:
        await open_loop_run(args, config)
        return
    results = []
    for n in range(1, args.runs + 1):
        result = await one_run(args, config, generator)
        report_run(n, result)
        results.append(result)
    report_median(results)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--runs", type=int, default=1, help="fresh database and server each")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--pool-size", type=int, default=5, help="DB_POOL_SIZE per worker")
    parser.add_argument("--max-overflow", type=int, default=10, help="DB_MAX_OVERFLOW per worker")
    parser.add_argument(
        "--address-pool",
        type=int,
        help="free addresses derived before the run (default: what the run can use, >= 15,000)",
    )
    parser.add_argument(
        "--no-pre-ping", action="store_true", help="DB_POOL_PRE_PING=false on the server"
    )
    open_loop.add_arguments(parser, rates=(200, 400, 600), seconds=20)
    parser.add_argument(
        "--closed",
        action="store_true",
        help="closed loop instead: --clients always waiting for --duration (saturation)",
    )
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
