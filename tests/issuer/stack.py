"""Our app served over real HTTP with the sandbox issuer mounted, the sandbox's callbacks
pointing back at it: what tests of cards, authorizations and webhooks drive.

Usage: import the fixture in your test directory's conftest.py (a fixture imported into a
test module itself trips ruff's F811 where a test takes it as an argument):

    # tests/<yours>/conftest.py
    from tests.issuer.stack import issuer_stack  # noqa: F401 - a shared fixture

    # tests/<yours>/test_something.py
    from tests.issuer.stack import IssuerStack

    async def test_purchase(issuer_stack: IssuerStack) -> None:
        card = await issuer_stack.adapter.create_card(
            currency="EUR", monthly_limit=50_000, label=None, reference="card-1"
        )
        answer = await issuer_stack.simulate(
            "purchase", card_id=card.issuer_card_id, amount="30.00", currency="EUR"
        )
        assert answer["status"] == "approved"  # once our authorize endpoint approves it

`issuer_stack` is per test (each test has its own database) and takes SANDBOX_SETTLE_SECONDS=0:
purchases settle only on `simulate("settle", transaction_id=...)`. For other settings use the
context manager: `async with running_stack(make_settings, sandbox_settle_seconds=0.2) as stack:`.
`stack.sandbox` is the sandbox's in-memory state (cards, transactions, sent events, balances).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.routing import Mount

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.issuer.base import IssuerAdapter
from paywarden.issuer.sandbox_service.state import SandboxState
from paywarden.kit.db import Database
from tests.servers import free_socket

SANDBOX_PREFIX = "/sandbox-issuer"


@dataclass
class IssuerStack:
    url: str  # our app's base URL, e.g. http://127.0.0.1:PORT
    app: FastAPI
    db: Database
    settings: Settings
    http: httpx.AsyncClient  # a plain client of our app over HTTP (base_url = url)
    simulator: httpx.AsyncClient  # the sandbox's base URL: post("/simulate/purchase", ...)

    @property
    def adapter(self) -> IssuerAdapter:
        return self.app.state.issuer

    @property
    def sandbox(self) -> SandboxState:
        for route in self.app.routes:
            if isinstance(route, Mount) and route.path == SANDBOX_PREFIX:
                return route.app.state.sandbox  # type: ignore[attr-defined]
        raise LookupError("the sandbox issuer is not mounted")

    async def simulate(self, action: str, **body: Any) -> dict[str, Any]:
        """POST /sandbox-issuer/simulate/<action>; asserts a 200 and returns the JSON."""
        response = await self.simulator.post(f"/simulate/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def purchase(
        self, card_id: str, amount: str, merchant: str = "Test Books", **more: Any
    ) -> dict[str, Any]:
        """A purchase on the card at a German bookshop (MCC 5942), in EUR unless `currency`."""
        more.setdefault("currency", "EUR")
        more.setdefault("mcc", "5942")
        more.setdefault("country", "DE")
        return await self.simulate(
            "purchase", card_id=card_id, amount=amount, merchant=merchant, **more
        )


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI, sock: Any) -> AsyncIterator[None]:
    """Serve `app` (lifespan already running) on the bound socket until the block ends."""
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                    pytest.fail("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_stack(
    make_settings: Callable[..., Settings], **overrides: Any
) -> AsyncIterator[IssuerStack]:
    """The app and its mounted sandbox on a free port; `overrides` are Settings fields."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    values: dict[str, Any] = {"public_base_url": url, "sandbox_settle_seconds": 0}
    values.update(overrides)
    settings = make_settings(**values)
    app = create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            serve_app(app, sock),
            httpx.AsyncClient(base_url=url, timeout=10) as http,
            httpx.AsyncClient(base_url=url + SANDBOX_PREFIX, timeout=10) as simulator,
        ):
            yield IssuerStack(url, app, app.state.db, settings, http, simulator)
    finally:
        sock.close()


@pytest.fixture
async def issuer_stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(make_settings) as stack:
        yield stack
