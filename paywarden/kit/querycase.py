"""Dual-accept for query strings: `?merchantId=` reaches the endpoint as `merchant_id`."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from paywarden.kit.casing import to_snake


def fold_query(raw: bytes) -> bytes:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    if all(k == to_snake(k) for k, _ in pairs):
        return raw
    given = {k for k, _ in pairs}
    # The canonical snake_case key wins when both spellings are present.
    folded = [(to_snake(k), v) for k, v in pairs if k == to_snake(k) or to_snake(k) not in given]
    return urlencode(folded).encode("ascii")


class CamelQueryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and scope["query_string"]:
            # Mutated in place: outer middleware reads what routing writes into this scope.
            scope["query_string"] = fold_query(scope["query_string"])
        await self.app(scope, receive, send)
