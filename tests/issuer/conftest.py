"""A sandbox issuer served alone over HTTP, and a receiver standing in for our inbound routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from paywarden.issuer.base import Decision, DeclineReason, InvalidSignature
from paywarden.issuer.sandbox import SandboxAdapter
from paywarden.issuer.sandbox_service import create_sandbox_app
from paywarden.issuer.sandbox_service.state import SandboxState
from tests.issuer.stack import issuer_stack  # noqa: F401 - a shared fixture
from tests.servers import serve

API_KEY = "sandbox-test-key"
SECRET = "sandbox-test-secret"


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    """Records what the sandbox sends, verifies it, and answers authorizations as told."""

    url: str
    adapter: SandboxAdapter
    received: list[Received] = field(default_factory=list)
    decline: DeclineReason | None = None  # the next answers' decline reason; None: approve

    def of(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.path.endswith(kind)]


@dataclass
class Sandbox:
    url: str
    state: SandboxState
    adapter: SandboxAdapter
    simulator: httpx.AsyncClient

    async def simulate(self, action: str, **body: Any) -> dict[str, Any]:
        response = await self.simulator.post(f"/simulate/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()


def receiver_app(receiver: list[Receiver]) -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/issuer/sandbox/{kind}")
    async def inbound(kind: str, request: Request) -> JSONResponse:
        target = receiver[0]
        body = await request.body()
        try:
            target.adapter.verify(request.headers, body, datetime.now(UTC))
        except InvalidSignature as exc:
            return JSONResponse({"error": str(exc)}, 401)
        target.received.append(Received(request.url.path, body, dict(request.headers)))
        if kind == "authorize":
            target.adapter.parse_authorization(await request.json())
            decision = Decision(target.decline is None, target.decline)
            return JSONResponse(target.adapter.authorization_answer(decision))
        target.adapter.parse_event(await request.json())
        return JSONResponse({"ok": True})

    return app


@contextlib.asynccontextmanager
async def sandbox_pair(settle_seconds: float = 0) -> AsyncIterator[tuple[Sandbox, Receiver]]:
    holder: list[Receiver] = []
    async for receiver_url in serve(receiver_app(holder)):
        verifier = SandboxAdapter("http://127.0.0.1:9", "unused", [SECRET])
        receiver = Receiver(receiver_url, verifier)
        holder.append(receiver)
        app = create_sandbox_app(
            api_key=API_KEY, secret=SECRET, callback_url=receiver_url, settle_seconds=settle_seconds
        )
        async for url in serve(app):
            adapter = SandboxAdapter(url, API_KEY, [SECRET])
            async with httpx.AsyncClient(base_url=url, timeout=10) as simulator:
                yield Sandbox(url, app.state.sandbox, adapter, simulator), receiver
            await adapter.aclose()
        await verifier.aclose()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Sandbox, Receiver]]:
    async with sandbox_pair() as value:
        yield value


@pytest.fixture
def sandbox(pair: tuple[Sandbox, Receiver]) -> Sandbox:
    return pair[0]


@pytest.fixture
def receiver(pair: tuple[Sandbox, Receiver]) -> Receiver:
    return pair[1]
