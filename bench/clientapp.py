"""Benchmark: the client app's pages (GET /app/...) on the embedded default, SQLite, over real
HTTP against a real `paywarden serve --no-worker` (issue 17: each page's HTML under 50 KB and
under 100 ms).

The data is the console benchmark's (bench/console.py `load`: 10,000 clients, ~20,000 cards,
~100,000 card transactions over 30 days, wallets and ledger lines). One client of the middle of
the table signs in as the Mini App does, with Telegram init data signed by the server's
TELEGRAM_BOT_TOKEN exchanged for the cookie (`POST /api/botcartd/session`); then each page is
fetched sequentially after a warm-up. Every answer must be a 200. Printed per page: its size,
median, p95 and max.

    .venv/bin/python bench/clientapp.py [--clients 10000] [--requests 50] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from paywarden.clients.auth import init_data_hash

sys.path.insert(0, str(Path(__file__).parent))
from bench_operator import time_gets
from console import CARDS_PER_CLIENT, DAYS, TRANSACTIONS_PER_CLIENT, load
from order_create import (  # the sibling benchmark's server plumbing
    ServerConfig,
    fill_address_pool,
    free_port,
    migrate,
    percentile,
    running_server,
    server_env,
    wait_ready,
)

TELEGRAM_TOKEN = "123456:bench-telegram-bot-token"
TARGET_MS = 100.0
TARGET_BYTES = 50 * 1024
PAGES = (
    "/app/",
    "/app/main",
    "/app/card",
    "/app/3ds",
    "/app/tx",
    "/app/tx?page=2",
    "/app/profile",
)


def init_data(user_id: int) -> str:
    fields = {
        "user": json.dumps({"id": user_id, "first_name": "Bench", "language_code": "en"}),
        "auth_date": str(int(time.time())),
    }
    return urlencode({**fields, "hash": init_data_hash(fields, TELEGRAM_TOKEN)})


def telegram_id_of(db_file: Path, client_id: str) -> int:
    with sqlite3.connect(db_file) as con:
        row = con.execute(
            "SELECT external_user_id FROM clients WHERE id = ?", (client_id.replace("-", ""),)
        ).fetchone()
    assert row, f"no client {client_id}"
    return int(str(row[0]).removeprefix("tg_"))


async def measure(base_url: str, user_id: int, requests: int, warmup: int) -> list[str]:
    """Time each page; the pages that miss a target."""
    missed = []
    width = max(len(p) for p in PAGES)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        signed = await client.post(
            "/api/botcartd/session", headers={"X-Telegram-Init-Data": init_data(user_id)}
        )
        assert signed.status_code == 200, signed.text
        for path in PAGES:
            size = len((await client.get(path)).content)
            ms = [t * 1000 for t in await time_gets(client, path, requests, warmup)]
            p95 = percentile(ms, 0.95)
            ok = p95 <= TARGET_MS and size <= TARGET_BYTES
            if not ok:
                missed.append(path)
            print(
                f"{path:<{width}}  {size / 1024:5.1f} KB  median {statistics.median(ms):5.1f} ms  "
                f"p95 {p95:5.1f} ms  max {max(ms):6.1f} ms  {'met' if ok else 'NOT met'}",
                flush=True,
            )
    return missed


async def main(args: argparse.Namespace) -> None:
    print(
        f"client app pages on SQLite with {args.clients:,} clients, "
        f"{args.clients * CARDS_PER_CLIENT:,} cards, "
        f"{args.clients * TRANSACTIONS_PER_CLIENT:,} card transactions over {DAYS} days; "
        f"{args.requests} sequential GETs per page after {args.warmup} warm-up; "
        "server: serve --no-worker, 1 worker",
        flush=True,
    )
    cwd = Path(tempfile.mkdtemp(prefix="pw_bench_clientapp_"))
    db_file = cwd / "paywarden.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    try:
        config = ServerConfig(workers=1, pool_size=5, max_overflow=10, address_pool=5)
        env = server_env(url, cwd, config)
        env["TELEGRAM_BOT_TOKEN"] = TELEGRAM_TOKEN
        migrate(env, cwd)
        await fill_address_pool(url, env)
        loaded = await asyncio.to_thread(load, db_file, args.clients)
        user_id = telegram_id_of(db_file, str(loaded.sample_client))
        print(f"loaded {loaded.clients:,} clients; the client: tg_{user_id}", flush=True)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with running_server(env, cwd, port, workers=1) as server:
            await wait_ready(base_url, server, cwd / "server.log")
            missed = await measure(base_url, user_id, args.requests, args.warmup)
        verdict = "met" if not missed else f"NOT met on {', '.join(missed)}"
        print(
            f"target: every page under {TARGET_BYTES // 1024} KB and p95 under "
            f"{TARGET_MS:.0f} ms: {verdict}"
        )
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50, help="timed GETs per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed GETs per page first")
    asyncio.run(main(parser.parse_args()))
