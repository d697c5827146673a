"""A merchant's webhook receiver, served over real HTTP: it records each request and answers
with the status the test sets per path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI, Request, Response

from tests.servers import serve


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # path -> status (default 200)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = FastAPI()

    @app.post("/{path:path}")
    async def hook(path: str, request: Request) -> Response:
        rec.requests.append(Received("/" + path, dict(request.headers), await request.body()))
        status = rec.answers.get("/" + path, 200)
        return Response(f"answer {status} " + "x" * 2000, status_code=status)

    async for base in serve(app, lifespan="off"):
        rec.base = base
        yield rec
