"""Benchmark: a 3-D Secure code from the sandbox issuer to the client's Telegram chat.

On a fresh PostgreSQL database: `paywarden serve --no-worker` (the API, with the sandbox issuer
mounted), `paywarden bot` against a fake Bot API server (paywarden/telegram/fake_api.py, on a
thread of this process, strict: a send over Telegram's limits is answered 429 and counted), and
--clients Telegram clients, each with a funded EUR wallet and a card issued through the client
API. Then --codes purchases with 3-D Secure arrive at --rate per second (an open loop), spread
over the clients' cards: the sandbox sends the code to our webhook; the bot's outbox sends it.

Each code's latency runs from the moment its purchase was asked of the sandbox to the moment the
fake Bot API received the message. Every message must carry its purchase's code: the benchmark
types it back (`/simulate/authenticate`) and the purchase must be approved. Then a burst: --burst
codes at once, one per client, once the approvals' messages have gone out: the bot must spread
them over time to keep to 30 messages a second.

Target: p95 at most 1 s over the codes, none lost, no send over Telegram's limits.

    .venv/bin/python bench/notifications.py [--codes 200] [--rate 10] [--clients 50] [--burst 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.pool import NullPool

from paywarden.kit.db import Database
from paywarden.models import Plan
from paywarden.telegram.fake_api import create_fake_bot_api
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg

sys.path.insert(0, str(Path(__file__).parent))
from order_create import (  # the sibling benchmark's plumbing
    BENCH_KEYS,
    BIN,
    ServerConfig,
    free_port,
    fresh_database,
    migrate,
    percentile,
    running_server,
    server_env,
    wait_ready,
)

TARGET_P95_S = 1.0
TOKEN = "7000000001:" + "B" * 35
BOT_API_TOKEN = "bench-bot-" + secrets.token_hex(8)
FUNDS = 1_000_000  # cents per client
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Purchase:
    chat: int
    card: str
    asked_at: float  # time.time() when the purchase was asked of the sandbox
    transaction_id: str | None = None
    received_at: float | None = None
    code: str | None = None
    approved: bool = False


@dataclass
class Run:
    purchases: list[Purchase] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def fake_bot_api(strict: bool = True) -> Iterator[str]:
    """The fake Bot API on a thread with its own event loop (the load's loop stays free)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_fake_bot_api(TOKEN, strict=strict), log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def seed(url: str) -> None:
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            session.add(
                Plan(
                    name="Bench",
                    monthly_fee=0,
                    cards_included=5,
                    max_active_cards=5,
                    card_issue_fee=0,
                    topup_fee_bps=0,
                    fx_fee_bps=0,
                    is_default=True,
                )
            )
    finally:
        await db.dispose()


async def fund(url: str, client_ids: list[uuid.UUID]) -> None:
    db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
    try:
        async with db.transaction() as session:
            for client_id in client_ids:
                key = f"bench:{uuid.uuid4()}"
                account = await wallets.wallet(session, client_id, "EUR")
                source = await wallets.system_account(
                    session, "usdt_received", "EUR", spread_key=key
                )
                legs = [Leg(account, "EUR", FUNDS), Leg(source, "EUR", -FUNDS)]
                await wallets.post(session, "topup", key, legs)
    finally:
        await db.dispose()


async def clients_with_cards(api: httpx.AsyncClient, url: str, n: int) -> dict[int, str]:
    """`n` Telegram clients, funded, each with an active EUR card: chat id -> issuer card id."""
    chats = [7_100_000_000 + i for i in range(n)]
    ids = []
    for chat in chats:
        made = await api.post("/api/botcartd/clients", json={"external_user_id": f"tg_{chat}"})
        made.raise_for_status()
        ids.append(uuid.UUID(made.json()["id"]))
    await fund(url, ids)
    cards = {}
    for chat in chats:
        issued = await api.post(
            "/api/botcartd/cards",
            params={"externalUserId": f"tg_{chat}"},
            json={"currency": "EUR", "monthly_limit": "5000.00"},
        )
        issued.raise_for_status()
        cards[chat] = issued.json()["issuer_card_id"]
    return cards


async def purchase(sandbox: httpx.AsyncClient, p: Purchase, run: Run) -> None:
    body = {
        "card_id": p.card,
        "amount": "1.00",
        "currency": "EUR",
        "merchant": "BENCH SHOP",
        "mcc": "5999",
        "country": "DE",
        "three_ds": "wait",
    }
    p.asked_at = time.time()
    answer = await sandbox.post("/simulate/purchase", json=body)
    if answer.status_code != 200:
        run.errors.append(f"purchase {answer.status_code}: {answer.text[:200]}")
        return
    p.transaction_id = answer.json()["transaction_id"]


async def codes_phase(
    sandbox: httpx.AsyncClient, cards: dict[int, str], count: int, rate: float, run: Run
) -> list[Purchase]:
    """`count` purchases at `rate` a second, round-robin over the cards (open loop)."""
    chats = list(cards)
    batch = [
        Purchase(chats[i % len(chats)], cards[chats[i % len(chats)]], 0.0) for i in range(count)
    ]
    started = time.monotonic()
    tasks = []
    for i, p in enumerate(batch):
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(purchase(sandbox, p, run)))
    await asyncio.gather(*tasks)
    run.purchases += batch
    return batch


async def await_messages(fake: httpx.AsyncClient, batch: list[Purchase], since: float) -> None:
    """Match each purchase with its chat's next code message (one code per chat in flight at a
    time in the codes phase; in order otherwise)."""
    deadline = time.monotonic() + 120
    by_chat: dict[int, list[Purchase]] = {}
    for p in sorted(batch, key=lambda p: p.asked_at):
        by_chat.setdefault(p.chat, []).append(p)
    while time.monotonic() < deadline:
        sent = (await fake.get("/_fake/sent")).json()
        got: dict[int, list[dict[str, Any]]] = {}
        for m in sent:
            if m["at"] >= since and m["chat_id"] in by_chat and CODE.search(m["text"] or ""):
                got.setdefault(m["chat_id"], []).append(m)
        if all(len(got.get(chat, [])) >= len(ps) for chat, ps in by_chat.items()):
            for chat, ps in by_chat.items():
                for p, m in zip(ps, got[chat], strict=False):
                    p.received_at = m["at"]
                    found = CODE.search(m["text"])
                    p.code = found.group(1) if found else None
            return
        await asyncio.sleep(0.25)


async def quiet(fake: httpx.AsyncClient, seconds: float = 2.0) -> None:
    """Until the bot has sent nothing for `seconds` (its queue is empty)."""
    count, since = -1, time.monotonic()
    while time.monotonic() - since < seconds:
        now = len((await fake.get("/_fake/sent")).json())
        if now != count:
            count, since = now, time.monotonic()
        await asyncio.sleep(0.2)


async def authenticate(sandbox: httpx.AsyncClient, batch: list[Purchase]) -> None:
    async def one(p: Purchase) -> None:
        if p.transaction_id and p.code:
            answer = await sandbox.post(
                "/simulate/authenticate", json={"transaction_id": p.transaction_id, "otp": p.code}
            )
            p.approved = answer.status_code == 200 and answer.json().get("approved") is True

    await asyncio.gather(*(one(p) for p in batch))


def report(name: str, batch: list[Purchase]) -> tuple[float, int]:
    latencies = [p.received_at - p.asked_at for p in batch if p.received_at is not None]
    lost = sum(1 for p in batch if p.received_at is None)
    wrong = sum(1 for p in batch if p.received_at is not None and not p.approved)
    if latencies:
        print(
            f"== {name}: n={len(batch)}  p50 {percentile(latencies, 0.5) * 1000:.0f} ms  "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms  "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms  "
            f"max {max(latencies) * 1000:.0f} ms  lost {lost}  not approved with its code {wrong}",
            flush=True,
        )
    p95 = percentile(latencies, 0.95) if latencies else float("inf")
    return p95, lost + wrong


@contextmanager
def bot_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (cwd / "bot.log").open("wb") as out:
        bot = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [str(BIN / "paywarden"), "bot"], env=env, cwd=cwd, stdout=out, stderr=out
        )
    try:
        yield bot
    finally:
        bot.terminate()
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            bot.kill()


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def wait_for_bot(fake: httpx.AsyncClient, bot: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            raise SystemExit(f"paywarden bot exited {bot.returncode}:\n{_tail(log)}")
        calls = (await fake.get("/_fake/calls")).json()
        if any(c["method"] == "getUpdates" for c in calls):
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"paywarden bot did not start polling:\n{_tail(log)}")


async def main(args: argparse.Namespace) -> None:
    config = ServerConfig(workers=1, pool_size=10, max_overflow=20, address_pool=5)
    run = Run()
    with tempfile.TemporaryDirectory(prefix="pw_bench_") as tmp, fake_bot_api() as fake_url:
        cwd = Path(tmp)
        async with fresh_database() as url:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            env = server_env(url, cwd, config) | {
                "PUBLIC_BASE_URL": base_url,
                "ISSUER": "sandbox",
                "BOT_API_TOKEN": BOT_API_TOKEN,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": fake_url,
            }
            migrate(env, cwd)
            await seed(url)
            with running_server(env, cwd, port, config.workers) as server:
                await wait_ready(base_url, server, cwd / "server.log")
                headers = {"X-Bot-Token": BOT_API_TOKEN}
                async with (
                    httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as api,
                    httpx.AsyncClient(base_url=f"{base_url}/sandbox-issuer", timeout=30) as sb,
                    httpx.AsyncClient(base_url=fake_url, timeout=30) as fake,
                    # A purchase waits for its code, not the other purchases: many connections.
                ):
                    cards = await clients_with_cards(api, url, args.clients)
                    print(
                        f"== {len(cards)} clients with a funded card; starting the bot", flush=True
                    )
                    with bot_process(env, cwd) as bot:
                        await wait_for_bot(fake, bot, cwd / "bot.log")
                        since = time.time()
                        batch = await codes_phase(sb, cards, args.codes, args.rate, run)
                        await await_messages(fake, batch, since)
                        await authenticate(sb, batch)
                        p95, bad = report(f"codes at {args.rate:g}/s", batch)

                        await quiet(fake)  # the approvals' messages out first
                        since = time.time()
                        burst = await codes_phase(sb, cards, args.burst, 1000.0, run)
                        await await_messages(fake, burst, since)
                        await authenticate(sb, burst)
                        report(f"burst of {args.burst} at once", burst)
                        spread = [p.received_at for p in burst if p.received_at]
                        if spread:
                            print(
                                f"   the burst's messages went out over "
                                f"{max(spread) - min(spread):.2f} s",
                                flush=True,
                            )
                    limits = (await fake.get("/_fake/limits")).json()["violations"]
    for error in run.errors[:5]:
        print("   error:", error)
    print(f"== sends over Telegram's limits (answered 429 by the strict fake): {len(limits)}")
    ok = p95 <= TARGET_P95_S and bad == 0 and not run.errors
    verdict = "PASS" if ok else "FAIL"
    print(f"== p95 {p95 * 1000:.0f} ms against {TARGET_P95_S * 1000:.0f} ms: {verdict}")
    if not ok:
        raise SystemExit(1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--burst", type=int, default=50)
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    asyncio.run(main(parse_args()))
