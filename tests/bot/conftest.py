"""The bot's tests: the fake Bot API server over real HTTP (updates fed in, sends read back),
the bot's runner in the test's event loop, or `paywarden bot` as a real process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paywarden.bot.runner import run_bot
from paywarden.config import Settings
from paywarden.context import database
from paywarden.kit.db import Database
from paywarden.telegram.fake_api import create_fake_bot_api
from tests.servers import serve

TOKEN = "123456:bot-tests-token-abcdefghij"
BASE_URL = "https://pay.example.com"
POLL_TIMEOUT = 1  # seconds: a stopped bot's last long poll ends quickly at the fake


@dataclass
class Fake:
    """The fake Bot API server, driven over its `/_fake/...` control API."""

    url: str
    http: httpx.AsyncClient

    async def say(self, chat_id: int, text: str, language: str | None = None) -> int:
        body: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if language:
            body["from"] = {"language_code": language}
        return int((await self.http.post("/_fake/updates", json=body)).json()["update_id"])

    async def press(self, chat_id: int, data: str) -> int:
        body = {"chat_id": chat_id, "callback": data}
        return int((await self.http.post("/_fake/updates", json=body)).json()["update_id"])

    async def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        params = {} if chat_id is None else {"chat_id": chat_id}
        return list((await self.http.get("/_fake/sent", params=params)).json())

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        found = (await self.http.get("/_fake/calls")).json()
        return [c for c in found if method is None or c["method"] == method]

    async def program(self, method: str, responses: list[dict[str, Any]]) -> None:
        body = {"method": method, "responses": responses}
        (await self.http.post("/_fake/program", json=body)).raise_for_status()

    async def wait_sent(self, chat_id: int, count: int, within: float = 10) -> list[dict]:
        """The chat's messages once there are `count` (fails after `within` seconds)."""
        async with asyncio.timeout(within):
            while True:
                found = await self.sent(chat_id)
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.05)

    async def reply(self, chat_id: int, text: str, language: str | None = None) -> dict:
        """Say `text` and return the bot's one answer."""
        before = len(await self.sent(chat_id))
        await self.say(chat_id, text, language)
        return (await self.wait_sent(chat_id, before + 1))[before]


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    async for url in serve(create_fake_bot_api(TOKEN)):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield Fake(url, http)


@pytest.fixture
def bot_settings(make_settings: Callable[..., Settings], fake: Fake) -> Settings:
    return make_settings(
        telegram_bot_token=TOKEN, telegram_api_url=fake.url, public_base_url=BASE_URL
    )


@pytest.fixture
async def bot_db(bot_settings: Settings) -> AsyncIterator[Database]:
    db = database(bot_settings)
    try:
        yield db
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, fake: Fake, ready: str = "getUpdates"
) -> AsyncIterator[asyncio.Task[None]]:
    """`run_bot` in this event loop, yielded once it called `ready` at the fake; stopped after."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop, poll_timeout=POLL_TIMEOUT))
    try:
        async with asyncio.timeout(20):
            while not await fake.calls(ready):
                if task.done():
                    task.result()
                    pytest.fail("the bot stopped before it was ready")
                await asyncio.sleep(0.05)
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def bot(bot_settings: Settings, fake: Fake) -> AsyncIterator[Fake]:
    """A polling bot on the test database; the fake to talk to it."""
    async with running_bot(bot_settings, fake):
        yield fake


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""
