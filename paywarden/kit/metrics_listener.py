"""/metrics on a listener of its own, bound to 127.0.0.1 (production without METRICS_TOKEN).

A second uvicorn server in the app's event loop, started and stopped by the app's lifespan, so
it reads the same registry and database as the app. The socket has SO_REUSEPORT: each process
of `serve --workers N` binds the same port and the kernel spreads the scrapes, as it does for
the main port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paywarden.kit.headers import SecurityHeadersMiddleware
from paywarden.kit.health import render_metrics
from paywarden.kit.logging import get_logger

log = get_logger(__name__)
HOST = "127.0.0.1"


class _SideServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The main server owns SIGINT/SIGTERM; this one stops when the app's lifespan ends.
        yield


class MetricsListener:
    def __init__(self, state: State, port: int) -> None:
        self.port = port

        async def metrics(_: Request) -> Response:
            return await render_metrics(state)

        app = Starlette(routes=[Route("/metrics", metrics)])
        app.add_middleware(SecurityHeadersMiddleware)
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
        self._server = _SideServer(config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((HOST, self.port))
        except OSError:
            sock.close()
            log.error("metrics_port_unavailable", host=HOST, port=self.port)
            raise
        self._socket = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the metrics listener stopped before it started")
            await asyncio.sleep(0.01)
        log.info("metrics_listener", url=f"http://{HOST}:{self.port}/metrics")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None and not self._task.done():
            await self._task
        if self._socket is not None:
            self._socket.close()
