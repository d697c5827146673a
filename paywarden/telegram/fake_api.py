"""A stand-in Telegram Bot API server: the bot talks to it over real HTTP as to Telegram
(`TELEGRAM_API_URL`), and tests, benchmarks or a developer drive it through `/_fake/...`.

What it does as Telegram does: `getMe`, `sendMessage`, `sendPhoto` (multipart), `deleteMessage`,
`answerCallbackQuery`, `getUpdates` (long polling, offsets confirm), `setWebhook` (then updates
are POSTed to the bot with `X-Telegram-Bot-Api-Secret-Token`, and `getUpdates` answers 409),
`deleteWebhook`; errors in Telegram's shape `{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}`.

The control API:
- `POST /_fake/updates` feeds an update: `{"chat_id", "text"}` (a private message), with
  optional `from` fields, or `{"callback": data}` (a button press), or a whole `update`;
- `POST /_fake/program` queues answers for the next matching calls: `{"method", "chat_id"?,
  "responses": [{"status": 429, "retry_after": 2}, {"status": 403}, {"status": 500},
  {"hold": 3.0}]}` (`hold`: answer normally after that many seconds);
- `GET /_fake/sent` (messages and photos delivered, with the time each was received),
  `GET /_fake/deleted`, `GET /_fake/calls` (every call and its status), `GET /_fake/limits`
  (sends that broke Telegram's limits: 1 message a second per chat, 30 a second in all);
- `POST /_fake/reset`.
With `strict=True` a send over those limits is answered 429, as Telegram may.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "PayWarden",
    "username": "paywarden_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
PER_CHAT_SECONDS = 1.0
GLOBAL_PER_SECOND = 30
SENDS = ("sendMessage", "sendPhoto")


@dataclass
class FakeState:
    token: str
    strict: bool = False
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed: int = 0  # update ids below this were confirmed by an offset
    sent: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    programs: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)
    last_by_chat: dict[int, float] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    new_update: asyncio.Event = field(default_factory=asyncio.Event)
    live: set[tuple[int, int]] = field(default_factory=set)  # (chat, message) not deleted

    def reset(self) -> None:
        fresh = FakeState(self.token, self.strict)
        self.__dict__.update(fresh.__dict__)


def _error(status: int, description: str, retry_after: float | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": int(retry_after)}
    return JSONResponse(body, status_code=status)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


async def _params(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        raw = await request.body()
        return json.loads(raw) if raw else {}
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        out: dict[str, Any] = {}
        async with request.form() as form:  # closes the uploads' temporary files
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    out[key] = {"file": value.filename, "size": len(await value.read())}
                else:
                    out[key] = _maybe_json(str(value))
        return out
    return dict(request.query_params)


def _maybe_json(value: str) -> Any:
    if value[:1] in "{[" or value.lstrip("-").isdigit():
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _chat(params: dict[str, Any]) -> int | None:
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return int(params["chat_id"])
    return None


def create_fake_bot_api(token: str, *, strict: bool = False) -> FastAPI:
    webhook_http = httpx.AsyncClient(timeout=10)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await webhook_http.aclose()

    app = FastAPI(
        title="Fake Telegram Bot API",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    state = FakeState(token, strict)
    app.state.fake = state

    def program_for(method: str, chat: int | None) -> dict[str, Any] | None:
        for program in state.programs:
            if program["method"] == method and program.get("chat_id") in (None, chat):
                response = program["responses"].pop(0)
                if not program["responses"]:
                    state.programs.remove(program)
                return dict(response)
        return None

    def over_limits(chat: int | None, now: float) -> str | None:
        while state.recent and now - state.recent[0] >= 1.0:
            state.recent.popleft()
        broken = None
        if len(state.recent) >= GLOBAL_PER_SECOND:
            broken = "global"
        last = state.last_by_chat.get(chat) if chat is not None else None
        if last is not None and now - last < PER_CHAT_SECONDS - 0.02:  # clocks and rounding
            broken = "chat"
        return broken

    def message(chat: int, params: dict[str, Any], photo: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": next(state.message_ids),
            "from": BOT_USER,
            "chat": {"id": chat, "type": "private"},
            "date": int(time.time()),
        }
        if photo:
            out["photo"] = [{"file_id": "fake", "file_unique_id": "fake", "width": 1, "height": 1}]
            if params.get("caption"):
                out["caption"] = params["caption"]
        else:
            out["text"] = params.get("text", "")
        if params.get("reply_markup"):
            out["reply_markup"] = params["reply_markup"]
        return out

    async def send(method: str, params: dict[str, Any]) -> JSONResponse:
        chat = _chat(params)
        if chat is None:
            return _error(400, "Bad Request: chat_id is empty")
        now = time.time()
        broken = over_limits(chat, now)
        if broken:
            state.violations.append({"chat_id": chat, "at": now, "limit": broken})
            if state.strict:
                return _error(429, "Too Many Requests: retry after 1", 1)
        state.recent.append(now)
        state.last_by_chat[chat] = now
        msg = message(chat, params, method == "sendPhoto")
        state.live.add((chat, msg["message_id"]))
        state.sent.append(
            {
                "method": method,
                "chat_id": chat,
                "message_id": msg["message_id"],
                "text": params.get("text") or params.get("caption"),
                "reply_markup": params.get("reply_markup"),
                "photo": params.get("photo") if method == "sendPhoto" else None,
                "at": now,
            }
        )
        return _ok(msg)

    async def get_updates(params: dict[str, Any]) -> JSONResponse:
        if state.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        if offset:
            state.confirmed = max(state.confirmed, offset)
            state.updates = [u for u in state.updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in state.updates if u["update_id"] >= state.confirmed]
            left = deadline - time.monotonic()
            if ready or left <= 0:
                return _ok(ready[:100])
            state.new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.new_update.wait(), left)

    async def answer(method: str, params: dict[str, Any]) -> JSONResponse:
        match method:
            case "getMe":
                return _ok(BOT_USER)
            case "sendMessage" | "sendPhoto":
                return await send(method, params)
            case "deleteMessage":
                key = (_chat(params) or 0, int(params.get("message_id") or 0))
                if key not in state.live:
                    return _error(400, "Bad Request: message to delete not found")
                state.live.discard(key)
                state.deleted.append({"chat_id": key[0], "message_id": key[1], "at": time.time()})
                return _ok(True)
            case "answerCallbackQuery":
                return _ok(True)
            case "getUpdates":
                return await get_updates(params)
            case "setWebhook":
                state.webhook = {"url": params.get("url"), "secret": params.get("secret_token")}
                return _ok(True)
            case "deleteWebhook":
                state.webhook = None
                return _ok(True)
            case "getWebhookInfo":
                url = state.webhook["url"] if state.webhook else ""
                return _ok({"url": url, "has_custom_certificate": False, "pending_update_count": 0})
        return _error(404, "Not Found: method not found")

    @app.api_route("/bot{given}/{method}", methods=["GET", "POST"])
    async def bot_method(given: str, method: str, request: Request) -> JSONResponse:
        params = await _params(request)
        call = {"method": method, "chat_id": _chat(params), "at": time.time(), "status": 200}
        state.calls.append(call)
        if given != state.token:
            call["status"] = 401
            return _error(401, "Unauthorized")
        programmed = program_for(method, _chat(params))
        if programmed is not None:
            if "hold" in programmed:
                call["held"] = programmed["hold"]
                await asyncio.sleep(float(programmed["hold"]))
            elif programmed.get("status", 200) != 200:
                status = int(programmed["status"])
                call["status"] = status
                descriptions = {
                    429: f"Too Many Requests: retry after {programmed.get('retry_after', 1)}",
                    403: "Forbidden: bot was blocked by the user",
                }
                text = descriptions.get(status, programmed.get("description", "Internal Error"))
                return _error(status, text, programmed.get("retry_after"))
        return await answer(method, params)

    # ---- the control API ----------------------------------------------------------------

    async def push(update: dict[str, Any]) -> None:
        if state.webhook is not None:
            headers = {}
            if state.webhook.get("secret"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = state.webhook["secret"]
            await webhook_http.post(state.webhook["url"], json=update, headers=headers)
            return
        state.updates.append(update)
        state.new_update.set()

    @app.post("/_fake/updates")
    async def feed(request: Request) -> dict[str, Any]:
        body = await request.json()
        update_id = next(state.update_ids)
        if "update" in body:
            update = {**body["update"], "update_id": update_id}
        else:
            chat = int(body["chat_id"])
            user = {"id": chat, "is_bot": False, "first_name": "Client", **body.get("from", {})}
            if "callback" in body:
                update = {
                    "update_id": update_id,
                    "callback_query": {
                        "id": str(update_id),
                        "from": user,
                        "chat_instance": str(chat),
                        "data": body["callback"],
                        "message": {
                            "message_id": 1,
                            "date": int(time.time()),
                            "chat": {"id": chat, "type": "private"},
                        },
                    },
                }
            else:
                update = {
                    "update_id": update_id,
                    "message": {
                        "message_id": next(state.message_ids),
                        "from": user,
                        "chat": {"id": chat, "type": body.get("chat_type", "private")},
                        "date": int(time.time()),
                        "text": body["text"],
                    },
                }
        await push(update)
        return {"update_id": update_id}

    @app.post("/_fake/program")
    async def program(request: Request) -> dict[str, Any]:
        body = await request.json()
        responses = list(body["responses"])
        state.programs.append(
            {"method": body["method"], "chat_id": body.get("chat_id"), "responses": responses}
        )
        return {"queued": len(body["responses"])}

    @app.get("/_fake/sent")
    async def sent(chat_id: int | None = None) -> list[dict[str, Any]]:
        return [m for m in state.sent if chat_id is None or m["chat_id"] == chat_id]

    @app.get("/_fake/deleted")
    async def deleted() -> list[dict[str, Any]]:
        return state.deleted

    @app.get("/_fake/calls")
    async def calls() -> list[dict[str, Any]]:
        return state.calls

    @app.get("/_fake/webhook")
    async def webhook() -> dict[str, Any] | None:
        return state.webhook

    @app.get("/_fake/limits")
    async def limits() -> dict[str, Any]:
        return {"violations": state.violations, "strict": state.strict}

    @app.post("/_fake/reset")
    async def reset() -> dict[str, bool]:
        state.reset()
        return {"ok": True}

    return app
