"""The merchants' webhook receiver, an asyncio HTTP/1.1 server inside the soak: it checks each
Standard Webhooks signature, answers 500 to 30 % of requests and is slow (2 s, under the
dispatcher's 10 s timeout) on another 10 %, and counts per webhook-id what it was sent and what
it acknowledged (a 2xx). Duplicates are allowed (at-least-once); a lost webhook is an event the
database says must reach the merchant that was never acknowledged here."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import random
from collections import Counter
from dataclasses import dataclass, field

from paywarden.webhooks.signing import signature

FAIL_SHARE = 0.30
SLOW_SHARE = 0.10
SLOW_SECONDS = 2.0
MAX_BODY = 1 << 20


@dataclass
class Receiver:
    secret: str
    seed: int = 18
    requests: int = 0
    failed: int = 0  # answered 500 on purpose
    slow: int = 0
    bad_signature: int = 0
    acked: Counter[str] = field(default_factory=Counter)  # webhook-id -> 2xx answers
    types: dict[str, str] = field(default_factory=dict)  # webhook-id -> event type
    _server: asyncio.Server | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - a workload, not a secret

    @property
    def duplicates(self) -> int:
        """Acknowledged more than once: at-least-once delivery's repeats."""
        return sum(n - 1 for n in self.acked.values() if n > 1)

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def _valid(self, headers: dict[str, str], body: bytes) -> bool:
        msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        if not msg_id or not ts.isdigit():
            return False
        expected = signature(self.secret, msg_id, int(ts), body)
        given = headers.get("webhook-signature", "").split()
        return any(hmac.compare_digest(expected, g) for g in given)

    async def _answer(self, headers: dict[str, str], body: bytes) -> int:
        self.requests += 1
        if not self._valid(headers, body):
            self.bad_signature += 1
            return 401
        draw = self.rng.random()
        if draw < FAIL_SHARE:
            self.failed += 1
            return 500
        if draw < FAIL_SHARE + SLOW_SHARE:
            self.slow += 1
            await asyncio.sleep(SLOW_SECONDS)
        msg_id = headers["webhook-id"]
        with contextlib.suppress(ValueError, AttributeError):
            self.types[msg_id] = str(json.loads(body).get("type"))
        self.acked[msg_id] += 1
        return 200

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > MAX_BODY:
                    break
                body = await reader.readexactly(length)
                status = await self._answer(headers, body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n"
                    f"Connection: keep-alive\r\n\r\n".encode()
                )
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ValueError,
        ):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
