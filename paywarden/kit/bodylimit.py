"""Request body limits, enforced while the body streams in, and JSON bodies with duplicate keys
refused — one pure ASGI middleware in front of every route.

A declared Content-Length over the route's limit is answered 413 before a byte is read. Bodies
without one (chunked) are counted as `http.request` messages arrive, and cut at the limit: no
more than the limit is ever held, whatever the client sends. Bodies FastAPI would parse as JSON
are read here (bounded by the same limit) and refused with 400 when an object repeats a key:
`json.loads` keeps the last one silently, so two readers of one body could disagree on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paywarden.config import Settings
from paywarden.kit.errors import AppError, InvalidBody, PayloadTooLarge, error_body

# Routes with their own limit (any other body: MAX_BODY_BYTES). Kept beside the middleware,
# since it runs before routing; a test checks each still names a route of the app.
# The API's banner uploads and the console's forms for them.
BANNER_UPLOADS = (
    ("POST", r"/api/v1/admin/banners/?"),
    ("PUT", r"/api/v1/admin/banners/[^/]+/?"),
    ("POST", r"/admin/banners/?"),
    ("POST", r"/admin/banners/[^/]+/edit/?"),
)
# The API's upload and the console's form for it (a JSON array of profiles, up to 2 MB).
B2B_UPLOADS = (("POST", r"/api/v1/admin/b2b-profiles/?"), ("POST", r"/admin/b2b/upload/?"))
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() takes other scripts' digits
_KEY_SHOWN = 64  # characters of a duplicate key echoed in the error


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes its limit (the 413 is sent by the middleware)."""


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


@dataclass(frozen=True)
class _Rule:
    method: str
    path: re.Pattern[str]
    limit: int


def _rules(settings: Settings) -> tuple[_Rule, ...]:
    limits = (
        (BANNER_UPLOADS, settings.banner_upload_max_bytes),
        (B2B_UPLOADS, settings.b2b_upload_max_bytes),
    )
    return tuple(
        _Rule(method, re.compile(path), limit)
        for routes, limit in limits
        for method, path in routes
    )


def _is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: no Content-Type at all, application/json or …+json."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def duplicate_key(body: bytes) -> str | None:
    """The first key repeated within one object of the JSON `body`, at any depth; None when
    there is none or the body is not JSON (FastAPI then answers for it as usual)."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as dup:
        return dup.key
    except (ValueError, RecursionError):
        return None
    return None


def _error_response(err: AppError, *, close: bool = False) -> JSONResponse:
    # After a 413 the rest of the body is never read: closing spares the server draining it.
    headers = {"connection": "close"} if close else None
    return JSONResponse(error_body(err.message, err.code), err.status, headers=headers)


def _too_large(limit: int) -> JSONResponse:
    message = f"The request body is larger than the limit of {limit} bytes"
    return _error_response(PayloadTooLarge(message), close=True)


class _Counted:
    """The request's `receive`, raising BodyTooLarge (again on every call) past `limit` bytes."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.total = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge()
        message = await self.receive()
        if message["type"] == "http.request":
            self.total += len(message.get("body", b""))
            if self.total > self.limit:
                self.exceeded = True
                raise BodyTooLarge()
        return message

    async def read_all(self) -> tuple[bytes, Message | None]:
        """The whole body, and the disconnect message if the client left before sending it."""
        chunks: list[bytes] = []
        while True:
            message = await self()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks), None


def _replay(body: bytes, disconnect: Message | None, receive: Receive) -> Receive:
    """A `receive` that hands out the body read already, then the client's later messages
    (http.disconnect, which streaming responses wait on)."""
    first: list[Message] = [
        disconnect or {"type": "http.request", "body": body, "more_body": False}
    ]

    async def replayed() -> Message:
        return first.pop() if first else await receive()

    return replayed


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.max_body_bytes
        self.rules = _rules(settings)

    def limit_for(self, method: str, path: str) -> int:
        for rule in self.rules:
            if rule.method == method and rule.path.fullmatch(path):
                return rule.limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if _DIGITS.fullmatch(declared) and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)  # nothing read, nothing buffered
            return
        counted = _Counted(receive, limit)
        inner: Receive = counted
        if _is_json(headers.get("content-type")):
            try:
                body, disconnect = await counted.read_all()
            except BodyTooLarge:
                await _too_large(limit)(scope, receive, send)
                return
            if body and (key := duplicate_key(body)) is not None:
                shown = key if len(key) <= _KEY_SHOWN else key[:_KEY_SHOWN] + "…"
                dup = InvalidBody(f"Invalid request body: duplicate key {shown!r}")
                await _error_response(dup)(scope, receive, send)
                return
            inner = _replay(body, disconnect, receive)
        await self._guarded(scope, inner, send, counted)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, counted: _Counted) -> None:
        """Run the app; once the body passed its limit, whatever the app made of the error (its
        own 400, a 500), the client gets the 413 — unless a response had already started."""
        started = False  # a response began (the app's, or our 413)
        answered = False  # our 413 was sent

        async def send_413() -> None:
            nonlocal started, answered
            started = answered = True
            await _too_large(counted.limit)(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if counted.exceeded and (answered or not started):
                if not answered:
                    await send_413()
                return  # the app's own answer to the cut body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if not counted.exceeded or (started and not answered):
                raise
            if not answered:
                await send_413()
        else:
            if counted.exceeded and not started:
                await send_413()
