"""Serving an ASGI app over real HTTP inside a test, for peers that need a socket (a browser,
the TronGrid client, a webhook sender)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import TEST_XPUB

PAYWARDEN = str(Path(sys.executable).with_name("paywarden"))


def free_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 (not listening yet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A port of 127.0.0.1 free a moment ago (for a server in another process)."""
    sock = free_socket()
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


def development_env(database_url: str, var_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment plus a development server's settings on the test database;
    `settings` add to or override them (e.g. DEMO_DATA="true")."""
    base = {"ENV": "development", "DATABASE_URL": database_url, "VAR_DIR": str(var_dir)}
    return {**os.environ, **base, "XPUB": TEST_XPUB, "LOG_LEVEL": "WARNING", **settings}


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The fields after the name (which may hold spaces) start at ") ": state, ppid...
            fields = stat.read_text().rpartition(") ")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def worker_children(pid: int) -> list[int]:
    """`paywarden worker` processes started by `pid` (`serve`'s worker child)."""
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if argv[-2:] == [b"worker", b""] and b"paywarden" in argv:
                found.append(child)
    return found


@contextlib.asynccontextmanager
async def serve_process(
    *args: str, port: int, env: Mapping[str, str], cwd: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`paywarden serve --port PORT ARGS` as a real process (its output in `cwd/serve.log`),
    yielded once `/healthz` answers 200; terminated after."""
    log = cwd / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            PAYWARDEN,
            "serve",
            "--port",
            str(port),
            *args,
            cwd=cwd,  # no developer's .env
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(600):
                if process.returncode is not None:
                    pytest.fail(f"serve exited {process.returncode}:\n{log.read_text()[-4000:]}")
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"serve did not start:\n{log.read_text()[-4000:]}")
        yield process
    finally:
        await stop_process(process)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, up to 30 s to exit, then SIGKILL (nothing when it has ended already)."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def serve(app: FastAPI, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Serve `app` with uvicorn in this event loop; yields its base URL, stops it after."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                    pytest.fail("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def serve_on_thread(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a thread of its own, for a synchronous client in the test
    (tronpy); yields its base URL, stops it after."""
    sock = free_socket()
    config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server stopped before it started"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
