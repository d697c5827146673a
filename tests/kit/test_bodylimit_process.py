"""Memory stays flat under 200 MB bodies: a real `paywarden serve` process is sent 200 MB,
chunked and by Content-Length, on a JSON route and on the banner upload, over a raw socket; each
is answered 413 PAYLOAD_TOO_LARGE and the server's resident memory grows by less than 20 MB."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from paywarden.config import Settings
from paywarden.context import database
from tests.conftest import TEST_XPUB
from tests.factories import create_operator
from tests.servers import free_port, serve_process

MB = 1024 * 1024
BIG = 200 * MB
BLOCK = b"\x00" * (64 * 1024)
SECRET_KEY = "body-limit-test-secret-key-" + "x" * 32
BOUNDARY = "pwbodylimit"
# The opening of a banner form whose image part then runs on (the parser streams into it).
MULTIPART_HEAD = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="page"\r\n\r\nmain\r\n'
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
    "Content-Type: image/jpeg\r\n\r\n"
).encode()


@dataclass
class Server:
    base: str
    port: int
    pid: int
    log: Path
    cookie: str = ""

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@dataclass
class Outcome:
    status: int | None
    body: bytes
    sent: int  # body bytes the kernel took from us before the server hung up
    cut: bool  # the server closed the connection while we were still sending


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "VAR_DIR": str(tmp_path / "var"),
        "XPUB": TEST_XPUB,
        "DEMO_DATA": "false",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DEVNET_BLOCK_SECONDS": "0",
        "ADDRESS_POOL_MIN_FREE": "1",
    }
    base = f"http://127.0.0.1:{port}"
    async with serve_process(
        "--no-worker", "--host", "127.0.0.1", port=port, env=env, cwd=tmp_path
    ) as process:
        yield Server(base, port, process.pid, tmp_path / "serve.log")


async def sign_in(server: Server, database_url: str, tmp_path: Path) -> str:
    """An operator's session cookie for the banner upload (it reads the form after sign-in)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        secret_key=SECRET_KEY,
        var_dir=tmp_path / "var",
        xpub=TEST_XPUB,
    )
    db = database(settings)
    try:
        op = await create_operator(db, "rss@example.com")
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        response = await http.post(
            "/api/v1/admin/auth/login",
            json={"email": op.email, "password": op.password, "totp_code": op.code()},
        )
        assert response.status_code == 200, response.text
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


def _answer(raw: bytes) -> tuple[int | None, bytes, bool]:
    """The status, the body and whether the whole answer is in `raw` (by its Content-Length)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None, b"", False
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        (
            int(v)
            for k, _, v in (h.partition(":") for h in lines[1:])
            if k.lower() == "content-length"
        ),
        None,
    )
    return status, body, length is not None and len(body) >= length


def send_big(
    server: Server, path: str, content_type: str, *, chunked: bool, total: int, head: bytes = b""
) -> Outcome:
    """POST `total` bytes (`head`, then zeros) over a raw socket, reading the answer as it comes
    (a server that hangs up early may reset the connection: what it said is read before)."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Content-Type: {content_type}",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}",
    ]
    if server.cookie:
        lines.append(f"Cookie: {server.cookie}")
    received = b""
    sent = 0
    cut = False

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    def read_ready() -> bool:
        """Read what the server sent; False once it closed."""
        nonlocal received
        while select.select([sock], [], [], 0)[0]:
            data = sock.recv(65536)
            if not data:
                return False
            received += data
        return True

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(
                ("\r\n".join(lines) + "\r\n\r\n").encode() + (frame(head) if head else b"")
            )
            sent = len(head)
            while sent < total:
                if not read_ready():
                    cut = True
                    break
                block = BLOCK[: total - sent]
                sock.sendall(frame(block))
                sent += len(block)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            cut = True
        try:
            while not _answer(received)[2]:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            cut = True
    status, body, _ = _answer(received)
    return Outcome(status, body, sent, cut)


async def test_200_mb_bodies_get_413_with_flat_memory(
    server: Server, database_url: str, tmp_path: Path
) -> None:
    server.cookie = await sign_in(server, database_url, tmp_path)
    json_limit = 64 * 1024
    banner_limit = 5 * MB + 64 * 1024
    cases = [
        ("/api/v1/payments", "application/json", b"", json_limit),
        (
            "/api/v1/admin/banners",
            f"multipart/form-data; boundary={BOUNDARY}",
            MULTIPART_HEAD,
            banner_limit,
        ),
    ]

    async def run(total: int) -> list[tuple[str, bool, Outcome]]:
        results = []
        for path, content_type, head, _limit in cases:
            for chunked in (True, False):
                outcome = await asyncio.to_thread(
                    send_big, server, path, content_type, chunked=chunked, total=total, head=head
                )
                results.append((path, chunked, outcome))
        return results

    # Warm up every code path with bodies just past the limits (lazy imports, caches, pools).
    await run(banner_limit + MB)
    before = server.rss_kb()
    results = await run(BIG)
    after = server.rss_kb()

    for (path, chunked, outcome), (_, _, _, limit) in zip(
        results, [c for c in cases for _ in (0, 1)], strict=True
    ):
        what = f"{path} {'chunked' if chunked else 'Content-Length'}: {outcome}"
        assert outcome.status == 413, what
        assert json.loads(outcome.body) == {
            "error": f"The request body is larger than the limit of {limit} bytes",
            "code": "PAYLOAD_TOO_LARGE",
        }, what
        # The server hung up instead of draining the rest: far less than 200 MB went out.
        assert outcome.cut, what
        assert outcome.sent < limit + 32 * MB, what
    growth_mb = (after - before) / 1024
    print(f"\nserver RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB ({growth_mb:+.1f} MB)")
    for path, chunked, outcome in results:
        kind = "chunked" if chunked else "Content-Length"
        print(f"  {path} {kind}: 413 after {outcome.sent / MB:.2f} MB sent")
    assert growth_mb < 20, f"RSS grew by {growth_mb:.1f} MB"
    # ...and the server still answers.
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).status_code == 200
