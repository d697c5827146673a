"""The Bot API, as the bot uses it: a few calls, and four kinds of failure.

Built on python-telegram-bot's `Bot` (its HTTP layer is httpx, the project's client already),
used as a plain async client: our own loops own the polling, the outbox and the shutdown, so
PTB's `Application` (its job queue, persistence and update loop) is not used. Nothing outside
this module sees a PTB type: callers get plain values and the errors below.

Failures, as the outbox needs them:
- `RetryLater`: 429 with `retry_after` (the seconds Telegram asks for), or a 5xx, a timeout, a
  connection refused: the same request may succeed later;
- `Blocked`: 403, the user blocked the bot (or deleted the account): never retried;
- `Rejected`: any other 4xx (a chat that does not exist, a message already deleted): retrying
  cannot help.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# PTB 22 opts in to its next major's durations (timedelta, not int): no deprecation warning
# when a 429's retry_after is read, and nothing to change when 23 comes.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (  # after the opt-in above
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    WebAppInfo,
)
from telegram import error as tg
from telegram.request import HTTPXRequest

TELEGRAM_API_URL = "https://api.telegram.org"


class BotApiError(Exception):
    """A Bot API call that did not succeed."""


class RetryLater(BotApiError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds Telegram asked for (429); None: our backoff


class Blocked(BotApiError):
    """403: the user blocked the bot."""


class Rejected(BotApiError):
    """A 4xx other than 403 and 429: the request itself is wrong for Telegram."""


@dataclass(frozen=True)
class Button:
    """An inline button: opens a Mini App (`web_app`, HTTPS only, Telegram's rule) or a link."""

    text: str
    url: str
    web_app: bool = False


@dataclass(frozen=True)
class Incoming:
    """What the bot reads of an update: a text message from a private chat, or a button press."""

    update_id: int
    chat_id: int | None
    user_id: int | None
    text: str | None  # a message's text, or a pressed button's callback data
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    callback_id: str | None = None  # set for a button press (answered with answer_callback)


def secret_of(token: str) -> str:
    """The webhook secret derived from the token when TELEGRAM_WEBHOOK_SECRET is unset
    (Telegram allows A-Z, a-z, 0-9, _ and -; 1-256 characters)."""
    return hashlib.sha256(b"paywarden-webhook:" + token.encode()).hexdigest()


def bot_id(token: str) -> str:
    """A name for the bot that is not its token (the heartbeat row's key, the lock's key)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _markup(buttons: list[Button] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = [
        [
            InlineKeyboardButton(b.text, web_app=WebAppInfo(b.url))
            if b.web_app and b.url.startswith("https://")
            else InlineKeyboardButton(b.text, url=b.url)
            if b.url.startswith(("http://", "https://"))
            else InlineKeyboardButton(b.text, callback_data=b.url)
        ]
        for b in buttons
    ]
    return InlineKeyboardMarkup(rows)


def _retry_after(e: tg.RetryAfter) -> float:
    value = e.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class BotApi:
    """One bot's calls. `open()` before use (it asks `getMe`), `close()` after."""

    def __init__(self, token: str, api_url: str = TELEGRAM_API_URL, *, poll_timeout: int = 25):
        base = api_url.rstrip("/")
        self.poll_timeout = poll_timeout
        self._bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            # Many sends in flight at once (the sender keeps up to 30 a second going).
            request=HTTPXRequest(
                connection_pool_size=64, connect_timeout=5, read_timeout=10, pool_timeout=5
            ),
            get_updates_request=HTTPXRequest(read_timeout=poll_timeout + 10, connect_timeout=5),
        )
        self.username: str | None = None

    async def open(self) -> str:
        """Check the token (getMe); returns the bot's username."""
        me = await self._call(self._bot.get_me)
        await self._call(self._bot.initialize)
        self.username = me.username
        return me.username

    async def close(self) -> None:
        await self._bot.shutdown()

    async def send_message(
        self, chat_id: int, text: str, buttons: list[Button] | None = None
    ) -> int:
        message = await self._call(
            self._bot.send_message,
            chat_id=chat_id,
            text=text,
            reply_markup=_markup(buttons),
            disable_web_page_preview=True,
        )
        return int(message.message_id)

    async def send_photo(
        self, chat_id: int, png: bytes, caption: str, buttons: list[Button] | None = None
    ) -> int:
        message = await self._call(
            self._bot.send_photo,
            chat_id=chat_id,
            photo=png,
            caption=caption,
            reply_markup=_markup(buttons),
        )
        return int(message.message_id)

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        await self._call(self._bot.delete_message, chat_id=chat_id, message_id=message_id)

    async def answer_callback(self, callback_id: str) -> None:
        await self._call(self._bot.answer_callback_query, callback_id)

    async def get_updates(self, offset: int | None) -> list[Incoming]:
        """Long polling: waits up to `poll_timeout` seconds for updates after `offset`."""
        updates = await self._call(
            self._bot.get_updates,
            offset=offset,
            timeout=self.poll_timeout,
            allowed_updates=["message", "callback_query"],
        )
        return [incoming(u) for u in updates]

    def parse(self, data: dict[str, Any]) -> Incoming:
        """An update Telegram posted to the webhook."""
        return incoming(Update.de_json(data, self._bot))

    async def set_webhook(self, url: str, secret: str) -> None:
        await self._call(
            self._bot.set_webhook,
            url=url,
            secret_token=secret,
            allowed_updates=["message", "callback_query"],
        )

    async def delete_webhook(self) -> None:
        await self._call(self._bot.delete_webhook)

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except tg.RetryAfter as e:
            raise RetryLater(str(e), _retry_after(e)) from e
        except tg.Forbidden as e:
            raise Blocked(str(e)) from e
        except tg.BadRequest as e:  # 400; PTB makes it a NetworkError, checked below
            raise Rejected(str(e)) from e
        except (tg.TimedOut, tg.NetworkError) as e:  # 5xx, timeouts, refused connections
            raise RetryLater(str(e)) from e
        except tg.TelegramError as e:  # 400, 401/404 (a bad token), 409
            raise Rejected(str(e)) from e


def incoming(update: Update) -> Incoming:
    if update.callback_query is not None:
        q = update.callback_query
        user = q.from_user
        chat = q.message.chat.id if q.message is not None else user.id
        return Incoming(
            update_id=update.update_id,
            chat_id=chat,
            user_id=user.id,
            text=q.data,
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            language_code=user.language_code,
            callback_id=q.id,
        )
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return Incoming(update.update_id, None, None, None)  # nothing the bot answers
    user = message.from_user
    return Incoming(
        update_id=update.update_id,
        chat_id=message.chat.id,
        user_id=user.id,
        text=message.text,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )
