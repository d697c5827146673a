"""An open-loop load generator: requests arrive at a fixed rate whatever the server does, as
card networks and shoppers send them, and each latency counts from the moment the request was
due, not from when a busy client got round to sending it (no coordinated omission).

A closed loop of N clients measures queueing at saturation (latency = N / throughput); this
answers the question an operator asks instead: at R requests per second, what do p50 and p99
look like, and what is the highest R whose p99 stays under the target?

Requests are prepared (and signed) before the clock starts; they go out over keep-alive
HTTP/1.1 connections taken from an idle pool, a new one opened when all are busy, through a
minimal client so that the generator spends little of the CPUs it shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MAX_CONNECTIONS = 2000  # past this the server is not keeping up; the backlog is the answer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class Connection:
    """A keep-alive HTTP/1.1 connection that sends prepared requests and reads the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base_url: str) -> Connection:
        host, port = base_url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, request: Request) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        self.writer.write(
            f"{request.method} {request.path} HTTP/1.1\r\nHost: bench\r\n"
            f"Content-Length: {len(request.body)}\r\n{head}\r\n".encode()
            + request.body
        )
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length")
        )
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class RateResult:
    rate: float  # requests per second asked for
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    late_ms: float = 0.0  # how far behind schedule the generator itself fell, at worst
    peak_connections: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def achieved(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def line(self) -> str:
        return (
            f"{self.rate:6.0f}/s asked, {self.achieved:6.0f}/s answered  "
            f"p50 {self.percentile(0.50):7.1f} ms  p99 {self.percentile(0.99):7.1f} ms  "
            f"max {max(self.latencies_ms, default=0):7.1f} ms  "
            f"connections {self.peak_connections}  answers {dict(sorted(self.outcomes.items()))}"
            + (f"  (generator up to {self.late_ms:.0f} ms late)" if self.late_ms > 5 else "")
        )


async def run(
    base_url: str,
    requests: Sequence[Request],
    rate: float,
    classify: Callable[[int, bytes], str],
) -> RateResult:
    """Send `requests` at `rate` per second; wait for every answer (up to 30 s each)."""
    result = RateResult(rate=rate, seconds=len(requests) / rate)
    idle: list[Connection] = []
    opened = 0

    async def one(request: Request, due: float) -> None:
        nonlocal opened
        conn = None
        while idle and conn is None:
            conn = idle.pop()
            if conn.reader.at_eof():  # the server closed it while idle (its keep-alive timeout)
                conn.close()
                opened -= 1
                conn = None
        if conn is None:
            opened += 1
            result.peak_connections = max(result.peak_connections, opened)
            conn = await Connection.open(base_url)
        try:
            status, answer = await asyncio.wait_for(conn.send(request), 30)
            outcome = classify(status, answer)
            idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            outcome = "http_error"
            conn.close()
            opened -= 1
        result.latencies_ms.append((time.perf_counter() - due) * 1000)
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1

    tasks = []
    start = time.perf_counter() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            result.late_ms = max(result.late_ms, -delay * 1000)
        if opened >= MAX_CONNECTIONS and not idle:
            result.outcomes["not_sent"] = result.outcomes.get("not_sent", 0) + 1
            continue
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return result


def highest_within(results: Sequence[RateResult], target_p99_ms: float) -> str:
    """The highest asked rate whose p99 stayed at or under the target, every answer given."""
    good = [
        r.rate
        for r in results
        if r.percentile(0.99) <= target_p99_ms
        and not {"http_error", "not_sent"} & r.outcomes.keys()
    ]
    if not good:
        return f"no rate tried kept p99 <= {target_p99_ms:.0f} ms"
    return f"highest rate with p99 <= {target_p99_ms:.0f} ms: {max(good):.0f}/s"


def add_arguments(
    parser: argparse.ArgumentParser, *, rates: Sequence[float], seconds: float
) -> None:
    """--rates and --seconds, with a benchmark's defaults."""
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[float(r) for r in rates],
        help="open loop: arrival rates per second, comma-separated, each for --seconds",
    )
    parser.add_argument(
        "--seconds", type=float, default=float(seconds), help="open loop: seconds at each rate"
    )
