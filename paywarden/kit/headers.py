"""Headers on every answer, whatever produced it: routes, errors, 404s, mounts, static files.

`Referrer-Policy: no-referrer`: our URLs carry what must not leak to other sites (order ids in
checkout links, tokens in verification links), and no page of ours needs the Referer. Pages that
want another policy set their own (the console: `same-origin`); this never overrides a header
already set.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_RAW = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class SecurityHeadersMiddleware:
    """Pure ASGI (no body buffering). Starlette answers a 500 outside the user middleware, so
    kit/errors.py adds SECURITY_HEADERS to that answer itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _RAW if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
