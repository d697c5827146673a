"""The mixed load and the chaos, as asyncio tasks over real HTTP: merchants creating and paying
orders, bot clients topping up, converting, issuing cards and buying through the sandbox,
operators reading the dashboards; a random replica or worker SIGKILLed every 10-30 s and
started again, and the devnet's unsolidified blocks reorganized every minute.

A request that fails at the connection while a replica is down (from its kill until 3 s after
its replacement answers) is counted apart: that is what a kill costs a client. Any other
connection error, and any 5xx, is a failure."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from soak.platform import BOT_TOKEN, Platform, execute, wait_http
from soak.processes import Proc

USDT = 1_000_000
EXPIRY_SECONDS = 60  # merchant and top-up orders: the harness shortens the API's 5 minutes
KINDS = ("exact", "partial", "over", "late", "never")
KIND_WEIGHTS = (40, 15, 15, 10, 20)
KILL_GRACE = 3.0


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)  # "<op> <outcome>"
    kill_windows: list[list[float]] = field(default_factory=list)  # [start, end]
    kills: Counter[str] = field(default_factory=Counter)
    reorgs: int = 0
    payments: Counter[str] = field(default_factory=Counter)
    topups: Counter[str] = field(default_factory=Counter)
    cards: Counter[str] = field(default_factory=Counter)
    order_ms: list[float] = field(default_factory=list)
    authorize_ms: list[float] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def during_kill(self, start: float, end: float) -> bool:
        return any(
            w_start <= end and start <= (w_end if w_end else time.monotonic()) + KILL_GRACE
            for w_start, w_end in self.kill_windows
        )

    def failures(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k.endswith((" 5xx", " conn_error")))


class Http:
    """Requests counted by outcome: 2xx, 4xx (expected ones), 5xx, conn_kill, conn_error."""

    def __init__(self, stats: Stats, client: httpx.AsyncClient) -> None:
        self.stats = stats
        self.client = client

    async def call(self, op: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.TransportError:
            kind = (
                "conn_kill" if self.stats.during_kill(started, time.monotonic()) else "conn_error"
            )
            self.stats.outcomes[f"{op} {kind}"] += 1
            return None
        status = response.status_code
        bucket = "5xx" if status >= 500 else "4xx" if status >= 400 else "2xx"
        self.stats.outcomes[f"{op} {bucket}"] += 1
        if bucket == "5xx" or (bucket == "4xx" and f"{op} {status}" not in self.stats.seen):
            self.stats.seen.add(f"{op} {status}")  # each 4xx kind shown once: expected or not
            print(f"  {status}: {op} {method} {url} {response.text[:200]}", flush=True)
        return response


@dataclass
class Load:
    platform: Platform
    stats: Stats
    db: AsyncEngine
    api_key: str
    stop: asyncio.Event
    rng: random.Random
    late: list[asyncio.Task[None]] = field(default_factory=list)

    def client(self, **kw: Any) -> Http:
        return Http(
            self.stats,
            httpx.AsyncClient(base_url=self.platform.ports.base_url, timeout=30, **kw),
        )

    async def pause(self, low: float, high: float) -> None:
        """Sleep low..high seconds, or less when the load is stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.rng.uniform(low, high))

    async def shorten(self, order_id: str) -> None:
        await execute(
            self.db,
            "UPDATE orders SET expires_at = created_at + make_interval(secs => :s) WHERE id = :id",
            s=EXPIRY_SECONDS,
            id=uuid.UUID(order_id),
        )

    async def pay(self, devnet: Http, kind: str, address: str, micros: int) -> None:
        answer = await devnet.call(
            "devnet.pay",
            "POST",
            self.platform.ports.devnet_url + "/pay",
            json={"to": address, "amount": micros},
        )
        if answer is not None and answer.status_code == 200:
            self.stats.payments[kind] += 1

    # ---- merchants ------------------------------------------------------------------------

    async def merchant(self, n: int) -> None:
        api = self.client(headers={"X-API-Key": self.api_key})
        devnet = Http(self.stats, httpx.AsyncClient(timeout=30))
        sent = 0
        while not self.stop.is_set():
            sent += 1
            kind = self.rng.choices(KINDS, KIND_WEIGHTS)[0]
            micros = self.rng.randint(200, 5_000) * 10_000  # 2.00 to 50.00 USDT
            body = {
                "external_id": f"soak-{n}-{sent}-{uuid.uuid4().hex[:6]}",
                "amount": f"{micros / USDT:.2f}",
                "expires_in": 300,
            }
            started = time.perf_counter()
            answer = await api.call("order.create", "POST", "/api/v1/payments", json=body)
            if answer is not None and answer.status_code == 201:
                self.stats.order_ms.append((time.perf_counter() - started) * 1000)
                order = answer.json()
                await self.shorten(order["id"])
                await self.settle_order(devnet, kind, order["address"], micros)
            await self.pause(0.3, 1.0)

    async def settle_order(self, devnet: Http, kind: str, address: str, micros: int) -> None:
        if kind == "exact":
            await self.pay(devnet, kind, address, micros)
        elif kind == "over":
            await self.pay(devnet, kind, address, micros + self.rng.randint(50, 500) * 10_000)
        elif kind == "partial":
            await self.pay(devnet, kind, address, max(USDT, micros * self.rng.randint(3, 7) // 10))
        elif kind == "late":

            async def later() -> None:
                await asyncio.sleep(EXPIRY_SECONDS + 8)  # the worker has expired it by then
                await self.pay(devnet, kind, address, micros)

            self.late.append(asyncio.create_task(later()))
        else:
            self.stats.payments["never"] += 1

    # ---- bot clients ----------------------------------------------------------------------

    async def bot(self, n: int) -> None:
        user = f"tg_{self.rng.randint(10**9, 10**10)}"  # a Telegram user of the bot
        api = self.client(headers={"X-Bot-Token": BOT_TOKEN})
        devnet = Http(self.stats, httpx.AsyncClient(timeout=30))
        sandbox = Http(
            self.stats, httpx.AsyncClient(base_url=self.platform.ports.sandbox_url, timeout=30)
        )
        q = {"externalUserId": user}
        made = None
        while made is None and not self.stop.is_set():
            body = {"external_user_id": user}
            made = await api.call("client.create", "POST", "/api/botcartd/clients", json=body)
            if made is None:
                await self.pause(1, 2)
        approved: list[str] = []
        while not self.stop.is_set():
            state = await api.call("client.state", "GET", "/api/botcartd/state", params=q)
            if state is None or state.status_code != 200:
                await self.pause(1, 2)
                continue
            s = state.json()
            usd = Decimal(s["wallets"].get("USD", {}).get("available", "0"))
            eur = Decimal(s["wallets"].get("EUR", {}).get("available", "0"))
            cards = [c for c in s["cards"] if c["status"] == "active"]
            draw = self.rng.random()
            if usd < 20 and draw < 0.3:
                await self.topup(api, devnet, q)
            elif usd >= 20 and eur < 30:
                await self.convert(api, q)
            elif len(cards) < 2 and eur > 0:
                answer = await api.call(
                    "card.issue",
                    "POST",
                    "/api/botcartd/cards",
                    params=q,
                    json={"currency": "EUR", "monthly_limit": "2000.00"},
                )
                if answer is not None and answer.status_code == 201:
                    self.stats.cards["issued"] += 1
            elif cards:
                await self.purchase(sandbox, self.rng.choice(cards), approved)
            await self.pause(0.3, 1.0)

    async def topup(self, api: Http, devnet: Http, q: dict[str, str]) -> None:
        micros = self.rng.randint(30, 80) * USDT
        answer = await api.call(
            "topup.create",
            "POST",
            "/api/botcartd/topups",
            params=q,
            json={"amount": str(micros // USDT)},
        )
        if answer is None or answer.status_code != 201:
            return
        made = answer.json()
        self.stats.topups["created"] += 1
        await self.shorten(made["order_id"])
        await self.pay(devnet, "topup", made["address"], micros)

    async def convert(self, api: Http, q: dict[str, str]) -> None:
        key = uuid.uuid4().hex
        for _ in range(3):  # a retry after a cut connection: the same key, never twice
            answer = await api.call(
                "convert",
                "POST",
                "/api/botcartd/convert",
                params=q,
                json={"from": "USD", "to": "EUR", "amount": "15.00"},
                headers={"Idempotency-Key": key},
            )
            if answer is not None:
                if answer.headers.get("Idempotent-Replayed") == "true":
                    self.stats.cards["convert replayed"] += 1
                self.stats.cards[
                    "converted" if answer.status_code == 200 else "convert refused"
                ] += 1
                return
            await asyncio.sleep(1)

    async def purchase(self, sandbox: Http, card: dict[str, Any], approved: list[str]) -> None:
        draw = self.rng.random()
        if draw < 0.1 and approved:
            tx = approved.pop(0)
            answer = await sandbox.call(
                "sandbox.refund", "POST", "/simulate/refund", json={"transaction_id": tx}
            )
            if answer is not None and answer.status_code == 200:
                self.stats.cards["refund"] += 1
            return
        body: dict[str, Any] = {
            "card_id": card["issuer_card_id"],
            "currency": "EUR",
            "amount": f"{self.rng.randint(100, 800) / 100:.2f}",
            "merchant": "SOAK SHOP",
            "mcc": "5999",
            "country": "DE",
        }
        label = "purchase"
        if draw < 0.25:
            body["amount"], label = "2500.00", "over limit"  # over the card's 2000.00
        elif draw < 0.4:
            body["three_ds"], label = True, "3ds"
        started = time.perf_counter()
        answer = await sandbox.call("sandbox.purchase", "POST", "/simulate/purchase", json=body)
        if answer is None or answer.status_code != 200:
            return
        self.stats.authorize_ms.append((time.perf_counter() - started) * 1000)
        out = answer.json()
        if out["approved"]:
            self.stats.cards[f"{label}: approved"] += 1
            if self.rng.random() < 0.5:
                approved.append(out["transaction_id"])
        else:
            self.stats.cards[
                f"{label}: declined {out['decline_reason'] or out['response_code']}"
            ] += 1

    # ---- operators ------------------------------------------------------------------------

    async def operator(self, who: Any) -> None:
        api = self.client()
        while not self.stop.is_set():
            try:
                await who.sign_in(api.client)
                break
            except (AssertionError, httpx.TransportError):
                await self.pause(1, 2)
        pages = (
            "/admin/cards",
            "/api/v1/admin/stats",
            "/admin/orders",
            "/api/v1/admin/wallet",
            "/api/v1/admin/incidents",
            "/admin",
        )
        while not self.stop.is_set():
            await api.call("operator.read", "GET", self.rng.choice(pages))
            await self.pause(0.5, 1.5)

    # ---- chaos ----------------------------------------------------------------------------

    async def kills(self) -> None:
        # The last replica and the last worker are never killed: the memory bar needs a replica
        # and a worker that lived the whole run (one restarted near the mark is still warming
        # up, and its growth says nothing). The others die every 10-30 s.
        targets: list[Proc] = self.platform.replicas[:-1] + self.platform.workers[:-1]
        while True:
            await self.pause(10, 30)
            if self.stop.is_set():
                return
            victim = self.rng.choice(targets)
            window = [time.monotonic(), 0.0]
            if victim.port is not None:
                self.stats.kill_windows.append(window)
            victim.kill()
            self.stats.kills[victim.name] += 1
            victim.restarted_at.append(time.monotonic())
            victim.start()
            if victim.port is not None:
                await wait_http(f"http://127.0.0.1:{victim.port}/readyz", victim)
            window[1] = time.monotonic()

    async def reorgs(self) -> None:
        devnet = Http(self.stats, httpx.AsyncClient(timeout=30))
        await self.pause(30, 30)  # then every minute: two in a 2-minute run
        while True:
            if self.stop.is_set():
                return
            # Alternately: the transactions come back in other blocks, or vanish.
            answer = await devnet.call(
                "devnet.reorg",
                "POST",
                self.platform.ports.devnet_url + "/reorg",
                json={"depth": SOLIDIFY_REORG_DEPTH, "reinclude": self.stats.reorgs % 2 == 0},
            )
            if answer is not None and answer.status_code == 200:
                self.stats.reorgs += 1
            await self.pause(60, 60)
            if self.stop.is_set():
                return


SOLIDIFY_REORG_DEPTH = 3  # every unsolidified block (the devnet solidifies 3 behind the head)
