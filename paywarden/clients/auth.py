"""Who is calling the client API (`/api/botcartd/...`), checked in this order:

1. `X-Bot-Token` equal to BOT_API_TOKEN: the bot's backend, acting for the client named by
   `?externalUserId=` (or `external_user_id` in a JSON body);
2. `X-Telegram-Init-Data`: a Telegram Mini App's raw initData, checked as Telegram documents;
   the client is `tg_<user.id>`, created on first sight;
3. the `client_token` cookie: a Mini App session (init data exchanged once by
   `POST /session`, clients/sessions.py) names its client; a web user's names the `tg_…` client
   it is linked to once that client exists, else its own `web_<id>` client;
4. for `GET state` only: an operator's `admin_token` session reading `?externalUserId=`.

Failed bot tokens and init data count against the caller's IP, like sign-in failures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import repository as repo
from paywarden.clients import service as clients
from paywarden.clients import sessions
from paywarden.clients.errors import (
    BotTokenInvalid,
    ClientNotFound,
    ClientUnauthorized,
    ExternalUserIdRequired,
    InitDataExpired,
    InitDataInvalid,
)
from paywarden.kit.ratelimit import RateLimiter
from paywarden.kit.time import utcnow
from paywarden.kit.web import Session, client_ip
from paywarden.models import Client
from paywarden.operators import service as operators
from paywarden.operators.service import Principal
from paywarden.operators.tokens import COOKIE_NAME as ADMIN_COOKIE
from paywarden.web_users import service as web_users
from paywarden.web_users.tokens import COOKIE_NAME as CLIENT_COOKIE

BOT_HEADER = "X-Bot-Token"
INIT_DATA_HEADER = "X-Telegram-Init-Data"
# Failed X-Bot-Token / init data per IP. Looser than sign-in's 5: Mini App users behind one NAT
# reopening stale apps should not lock each other out, guessing an HMAC is hopeless anyway.
FAILURE_RULE = "20/15minutes"
FAILURE_KEY = "client-auth-ip"
# Telegram's clock and ours may differ a little; init data from further ahead is refused.
CLOCK_SKEW = timedelta(seconds=60)
# last_active_at is written at most this often per client (a read should rarely write).
ACTIVE_RESOLUTION = timedelta(minutes=1)
MAX_INIT_DATA = 4096

Via = Literal["bot", "telegram", "web", "operator"]
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    client: Client
    via: Via
    operator: Principal | None = None  # set when an operator reads a client's state


@dataclass(frozen=True)
class TelegramUser:
    id: int
    display_name: str | None
    username: str | None
    language: str | None

    @property
    def external_user_id(self) -> str:
        return f"tg_{self.id}"


# ---- Telegram init data --------------------------------------------------------------------


def init_data_hash(fields: dict[str, str], bot_token: str) -> str:
    """Telegram's hash of init data: the data-check-string is every received field but `hash`,
    sorted by key, `key=value` joined by newlines; the key is HMAC-SHA256("WebAppData", token)."""
    data_check_string = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string.encode(), hashlib.sha256).hexdigest()


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _user(raw: str | None) -> TelegramUser:
    try:
        user = json.loads(raw) if raw else None
    except ValueError:
        user = None
    if not isinstance(user, dict):
        raise InitDataInvalid()
    user_id = user.get("id")
    if type(user_id) is not int or not 0 < user_id < 10**20:
        raise InitDataInvalid()
    names = [_text(user.get("first_name"), 255), _text(user.get("last_name"), 255)]
    display_name = " ".join(n for n in names if n) or None
    return TelegramUser(
        id=user_id,
        display_name=display_name[:255] if display_name else None,
        username=_text(user.get("username"), 255),
        language=_text(user.get("language_code"), 16),
    )


def check_init_data(raw: str, bot_token: str, max_age: int, now: datetime) -> TelegramUser:
    """The Telegram user of a Mini App's initData; InitDataInvalid / InitDataExpired (401)."""
    if len(raw) > MAX_INIT_DATA:
        raise InitDataInvalid()
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True, max_num_fields=64)
    except ValueError as exc:
        raise InitDataInvalid() from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a repeated key: which one was signed is ambiguous
        raise InitDataInvalid()
    received = fields.get("hash", "")
    expected = init_data_hash(fields, bot_token)
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise InitDataInvalid()
    auth_date = fields.get("auth_date", "")
    if not auth_date.isascii() or not auth_date.isdigit() or len(auth_date) > 12:
        raise InitDataInvalid()
    signed_at = int(auth_date)
    now_ts = int(now.timestamp())
    if signed_at > now_ts + CLOCK_SKEW.total_seconds():
        raise InitDataInvalid("Telegram init data is dated in the future")
    if now_ts - signed_at > max_age:
        raise InitDataExpired()
    return _user(fields.get("user"))


# ---- resolving the caller ------------------------------------------------------------------


def _limiter(request: Request) -> RateLimiter:
    return request.app.state.auth.limiter


async def _guarded(request: Request, check: Callable[[], T]) -> T:
    """Run `check()`; a 401 from it counts as a failure of this IP (429 past the rule)."""
    limiter, ip = _limiter(request), client_ip(request)
    await limiter.check(FAILURE_RULE, FAILURE_KEY, ip)
    try:
        return check()
    except (BotTokenInvalid, InitDataInvalid, InitDataExpired):
        await limiter.hit(FAILURE_RULE, FAILURE_KEY, ip)
        raise


def _check_bot_token(request: Request, given: str) -> None:
    configured = request.app.state.settings.bot_api_token
    if configured is None:
        raise BotTokenInvalid("Bot access is not enabled (BOT_API_TOKEN is unset)")
    if not hmac.compare_digest(configured.get_secret_value().encode(), given.encode()):
        raise BotTokenInvalid()


async def require_bot(request: Request) -> None:
    """Only the bot's backend: a right X-Bot-Token (401 UNAUTHORIZED otherwise)."""
    given = request.headers.get(BOT_HEADER)
    if given is None:
        raise ClientUnauthorized("X-Bot-Token required")
    await _guarded(request, lambda: _check_bot_token(request, given))


async def _named_external_id(request: Request) -> str:
    """The client a bot call acts for: `?externalUserId=` (folded to snake case by the query
    middleware), else `external_user_id` / `externalUserId` in a JSON body."""
    named = request.query_params.get("external_user_id")
    if not named and request.method not in ("GET", "HEAD"):
        body: object = None
        if "json" in request.headers.get("content-type", ""):
            try:
                body = await request.json()  # cached: the endpoint's body parsing reads it too
            except ValueError:
                body = None
        if isinstance(body, dict):
            value = body.get("external_user_id") or body.get("externalUserId")
            named = value if isinstance(value, str) else None
    if not named:
        raise ExternalUserIdRequired()
    return clients.check_external_user_id(named)


def _touch(client: Client) -> Client:
    now = utcnow()
    if client.last_active_at is None or now - client.last_active_at >= ACTIVE_RESOLUTION:
        client.last_active_at = now
    return client


async def _existing(db: AsyncSession, external_user_id: str) -> Client:
    client = await repo.by_external_id(db, external_user_id)
    if client is None:
        raise ClientNotFound()
    return client


async def _bot(request: Request, db: AsyncSession, given: str) -> Caller:
    await _guarded(request, lambda: _check_bot_token(request, given))
    client = await _existing(db, await _named_external_id(request))
    return Caller(_touch(client), "bot")


async def telegram_caller(request: Request, db: Session) -> Caller:
    """Only a Mini App's `X-Telegram-Init-Data` (401 UNAUTHORIZED without it): the session
    exchange takes nothing else."""
    raw = request.headers.get(INIT_DATA_HEADER)
    if raw is None:
        raise ClientUnauthorized("X-Telegram-Init-Data required")
    return await _telegram(request, db, raw)


async def _telegram(request: Request, db: AsyncSession, raw: str) -> Caller:
    settings = request.app.state.settings

    def check() -> TelegramUser:
        if settings.telegram_bot_token is None:
            raise InitDataInvalid("Mini App access is not enabled (TELEGRAM_BOT_TOKEN is unset)")
        token = settings.telegram_bot_token.get_secret_value()
        return check_init_data(raw, token, settings.telegram_init_max_age, utcnow())

    user = await _guarded(request, check)
    client = await repo.by_external_id(db, user.external_user_id)
    profile = {
        "display_name": user.display_name,
        "username": user.username,
        "language": user.language,
    }
    stale = client is None or any(
        value is not None and getattr(client, field) != value for field, value in profile.items()
    )
    if stale:  # first sight or a changed profile: one upsert (race-safe), last active included
        client = await clients.upsert_client(db, user.external_user_id, **profile)
    assert client is not None
    return Caller(_touch(client), "telegram")


async def _web(request: Request, db: AsyncSession, token: str) -> Caller:
    signing_key = request.app.state.web_users.signing_key
    if sessions.is_miniapp_token(signing_key, token):
        return Caller(_touch(await sessions.authenticate(db, signing_key, token)), "telegram")
    user = await web_users.authenticate(db, request.app.state.web_users, token)
    # Once the web user joined the bot, the tg_ client is the one they use.
    client = await repo.by_external_id(db, user.external_user_id) if user.external_user_id else None
    if client is None and user.client_id is not None:
        client = await repo.get(db, user.client_id)
    if client is None:
        raise ClientUnauthorized()
    return Caller(_touch(client), "web")


async def _operator(request: Request, db: AsyncSession, token: str, external_id: str) -> Caller:
    principal = await operators.authenticate(db, request.app.state.auth, token)
    client = await _existing(db, clients.check_external_user_id(external_id))
    return Caller(client, "operator", operator=principal)


async def _resolve(request: Request, db: AsyncSession, *, operators_too: bool) -> Caller:
    bot_token = request.headers.get(BOT_HEADER)
    if bot_token is not None:
        return await _bot(request, db, bot_token)
    init_data = request.headers.get(INIT_DATA_HEADER)
    if init_data is not None:
        return await _telegram(request, db, init_data)
    named = request.query_params.get("external_user_id")
    admin_token = request.cookies.get(ADMIN_COOKIE)
    # An operator names the client; a web user never does (they are their own client).
    if operators_too and named and admin_token:
        return await _operator(request, db, admin_token, named)
    client_token = request.cookies.get(CLIENT_COOKIE)
    if client_token:
        return await _web(request, db, client_token)
    raise ClientUnauthorized()


async def current_client(request: Request, db: Session) -> Caller:
    return await _resolve(request, db, operators_too=False)


async def state_reader(request: Request, db: Session) -> Caller:
    return await _resolve(request, db, operators_too=True)


CurrentClient = Annotated[Caller, Depends(current_client)]
TelegramCaller = Annotated[Caller, Depends(telegram_caller)]
StateReader = Annotated[Caller, Depends(state_reader)]
BotOnly = Depends(require_bot)
