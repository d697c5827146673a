"""Soak: the whole platform as the README scales it, under mixed load, with processes killed.

Starts PostgreSQL and Redis if they are down (scripts/ensure-services.sh), makes a fresh
database, then runs as separate processes: a devnet (a block every second, solidified 3
behind), the sandbox issuer (sending authorizations and webhooks to the proxy), 2 `paywarden
serve --no-worker` replicas behind a round-robin TCP proxy on 127.0.0.1 (bench/soak/proxy.py),
2 `paywarden worker`s (the only ones given the sweeping keys), and a webhook receiver that fails
30 % of requests and is slow on 10 %. For --minutes it drives merchants (orders paid exact,
partial, over, late, never), bot clients (top-ups, conversions, cards, purchases approved,
declined, 3-D Secure, refunds) and an operator reading the dashboards, while it SIGKILLs a
random replica or worker every 10-30 s (started again at once, the same command; the last
replica and the last worker are spared, so that the memory bar compares processes that lived
the whole run) and reorgs the devnet's unsolidified blocks every
minute. Then it stops the load, waits for the queues to
drain, runs `paywarden ledger check` and `paywarden reconcile --json`, and prints the report and
the verdict against the bar (exit 1 when missed, 2 when the platform could not run).

Harness shortcut: merchant and top-up orders expire 60 s after creation (the API's minimum is
5 minutes), so that late payments happen and the queues drain within a CI run.

    .venv/bin/python bench/soak.py [--minutes 10] [--merchants 2] [--bots 3] [--seed 18]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from bench_operator import BenchOperator  # noqa: E402
from order_create import fill_address_pool, fresh_database, migrate  # noqa: E402
from soak import platform as pf  # noqa: E402 - the package bench/soak/
from soak.load import EXPIRY_SECONDS, Load, Stats  # noqa: E402
from soak.processes import Supervisor  # noqa: E402
from soak.receiver import Receiver  # noqa: E402
from soak.report import examine, print_report, reconcile  # noqa: E402

ROOT = BENCH.parent
DRAIN_SECONDS = 240


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


async def watch(sup: Supervisor, stop: asyncio.Event, dead: list[str]) -> None:
    """A process that exits on its own (not killed by the chaos) is a failure of the run."""
    while not stop.is_set():
        for proc in sup.died():
            dead.append(proc.name)
            code = proc.popen.returncode if proc.popen else None
            log(f"{proc.name} exited on its own (exit {code}):\n{proc.tail()}")
            proc.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)


@dataclass
class Prepared:
    """The fresh database and what the load needs before any process starts."""

    url: str
    cwd: Path
    ports: pf.Ports
    envs: pf.Envs
    api_key: str
    operator: BenchOperator
    receiver: Receiver
    db: AsyncEngine


async def soak(args: argparse.Namespace, sup: Supervisor) -> bool:
    run = uuid.uuid4().hex[:6]
    # Before the loop has anything to run: the services are up, or the soak cannot start.
    subprocess.run([str(ROOT / "scripts/ensure-services.sh")], check=True)  # noqa: S603, ASYNC221
    with tempfile.TemporaryDirectory(prefix="pw_soak_") as tmp:
        cwd = Path(tmp)
        async with fresh_database() as url:
            ports = pf.Ports.pick(replicas=2)
            envs = pf.environments(url, cwd, ports, run)
            migrate(envs[0], cwd)
            await fill_address_pool(url, envs[0])
            webhook_secret = secrets.token_urlsafe(32)
            api_key = await pf.seed(url, ports.receiver, webhook_secret)
            operator = BenchOperator(f"soak-{run}@example.com")
            await operator.create(url)
            receiver = Receiver(webhook_secret, seed=args.seed)
            await receiver.start(ports.receiver)
            db = pf.engine(url)
            ready = Prepared(url, cwd, ports, envs, api_key, operator, receiver, db)
            try:
                return await drive(args, sup, ready)
            finally:
                await receiver.stop()
                await db.dispose()
                sup.stop_all()  # before the database is dropped


async def drive(args: argparse.Namespace, sup: Supervisor, ready: Prepared) -> bool:
    ports, db, receiver = ready.ports, ready.db, ready.receiver
    rng = random.Random(args.seed)  # noqa: S311 - a workload, not a secret
    log(
        f"starting: devnet, sandbox issuer, proxy :{ports.proxy}, replicas "
        f"{ports.replicas}, {args.workers} workers (logs in {ready.cwd})"
    )
    platform = await pf.start(sup, ready.url, ready.cwd, ports, args.workers, ready.envs)
    stats = Stats()
    stop = asyncio.Event()
    load = Load(platform, stats, db, ready.api_key, stop, rng)
    await asyncio.sleep(3)
    sup.sample_rss("start")
    seconds = args.minutes * 60
    mark = min(120.0, seconds / 2)
    dead: list[str] = []
    tasks = [asyncio.create_task(load.merchant(n)) for n in range(args.merchants)]
    tasks += [asyncio.create_task(load.bot(n)) for n in range(args.bots)]
    tasks += [asyncio.create_task(load.operator(ready.operator))]
    chaos = [
        asyncio.create_task(load.kills()),
        asyncio.create_task(load.reorgs()),
        asyncio.create_task(watch(sup, stop, dead)),
    ]
    log(
        f"load for {args.minutes:g} min: {args.merchants} merchants, {args.bots} bot clients, "
        f"1 operator; kills every 10-30 s, a reorg every minute"
    )
    started = time.monotonic()
    await asyncio.sleep(mark)
    sup.sample_rss("mark")
    log(f"RSS sampled at {mark:.0f} s; {sum(stats.outcomes.values())} requests so far")
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    sup.sample_rss("end")
    log("load stopped; waiting for the actors, the late payments and the last restart")
    crashed = [  # an actor or the chaos that stopped on an exception: the run proves less
        repr(r)
        for r in await asyncio.gather(*tasks, *chaos, *load.late, return_exceptions=True)
        if isinstance(r, BaseException)
    ]
    for line in crashed:
        log(f"a load task failed: {line}")
    await asyncio.sleep(pf.SETTLE_SECONDS + 2)  # the sandbox's settlements go out
    redelivered = await pf.redeliver_issuer_events(ports.sandbox_url)
    left = await pf.drain(db, DRAIN_SECONDS + EXPIRY_SECONDS, log)
    findings = await examine(db, receiver, left)
    await asyncio.to_thread(reconcile, platform, findings)
    ok = print_report(args, stats, receiver, platform, findings, mark, redelivered)
    if dead:
        print(f"== processes that exited on their own: {dead}: FAIL")
    if crashed:
        print(f"== load tasks that failed: {len(crashed)}: FAIL")
    return ok and not dead and not crashed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=float(os.environ.get("SOAK_MINUTES", "10")),
        help="minutes of load (default: SOAK_MINUTES, else 10)",
    )
    parser.add_argument("--merchants", type=int, default=2, help="concurrent merchant loops")
    parser.add_argument("--bots", type=int, default=3, help="bot clients")
    parser.add_argument("--workers", type=int, default=2, help="`paywarden worker` processes")
    parser.add_argument("--seed", type=int, default=18, help="the load's and the chaos' draws")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sup = Supervisor()

    async def entry() -> bool:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or CI cancelling: clean up
            loop.add_signal_handler(sig, task.cancel)
        return await soak(args, sup)

    try:
        ok = asyncio.run(entry())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: every process stopped, the database dropped", flush=True)
        sys.exit(130)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"soak: the platform could not run: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    finally:
        sup.stop_all()  # idempotent: whatever is still running
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
