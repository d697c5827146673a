"""Webhook mode: Telegram POSTs each update to TELEGRAM_WEBHOOK_URL; this small server (on
TELEGRAM_WEBHOOK_LISTEN, behind the site's TLS proxy) takes them.

One route, the URL's path. Telegram sends the secret given to `setWebhook` in
`X-Telegram-Bot-Api-Secret-Token`: a request without it is refused (401), with another one too
(403), compared in constant time. The body is capped; the answer is 200 at once, the update
handled after (Telegram waits for nothing and retries what is not answered 200).
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 256 * 1024  # an update is a few KB; Telegram's largest are far below this


def _refused(status: int, error: str, code: str) -> JSONResponse:
    """The project's error body (`{"error", "code"}`), as every other route answers."""
    return JSONResponse({"error": error, "code": code}, status_code=status)


def webhook_app(path: str, secret: str, on_update: Callable[[dict[str, Any]], None]) -> Starlette:
    """The ASGI app: `on_update(update)` is called for each accepted update (it must not block:
    the runner queues it)."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return _refused(401, "secret token missing", "UNAUTHORIZED")
        if not hmac.compare_digest(given.encode(), expected):
            return _refused(403, "wrong secret token", "FORBIDDEN")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return _refused(413, "body too large", "PAYLOAD_TOO_LARGE")
        body = bytearray()
        async for chunk in request.stream():  # a body without a length is counted too
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _refused(413, "body too large", "PAYLOAD_TOO_LARGE")
        try:
            update = json.loads(body)
        except ValueError:
            return _refused(400, "not JSON", "INVALID_BODY")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return _refused(400, "not an update", "INVALID_BODY")
        on_update(update)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(path or "/", receive, methods=["POST"])])


class WebhookServer(uvicorn.Server):
    """uvicorn in the bot's own event loop: the bot's signal handlers stay in charge (uvicorn's
    own would replace them and raise the signal again when it ends)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def listen_address(listen: str) -> tuple[str, int]:
    """TELEGRAM_WEBHOOK_LISTEN: `host:port` (`[::1]:8081` for IPv6)."""
    host, _sep, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def server_for(app: Starlette, listen: str) -> WebhookServer:
    host, port = listen_address(listen)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    return WebhookServer(config)
