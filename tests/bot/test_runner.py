"""The bot's loops in this event loop: long polling with offsets, webhook mode behind its secret,
the heartbeat row."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import httpx

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.notifications import service as notifications
from paywarden.telegram.client import bot_id, secret_of
from tests.bot.conftest import TOKEN, Fake, running_bot
from tests.servers import free_port

CHAT = 515151


async def test_polling_handles_each_update_once(
    bot_settings: Settings, fake: Fake, bot_db: Database
) -> None:
    async with running_bot(bot_settings, fake):
        assert await fake.calls("deleteWebhook")  # polling works even after a webhook
        for n in range(6):
            await fake.say(CHAT + n % 2, "/support", "en")
        await fake.wait_sent(CHAT, 3)
        await fake.wait_sent(CHAT + 1, 3)
        await asyncio.sleep(2.5)  # more long polls: a confirmed update is never fetched again
        assert len(await fake.sent()) == 6
        async with bot_db.transaction() as session:
            health = await notifications.bot_health(session, utcnow())
    assert health is not None
    assert health.alive
    assert (health.mode, health.username) == ("polling", "paywarden_test_bot")
    assert health.holder.endswith(f":{os.getpid()}")


async def test_polling_survives_bot_api_errors(bot_settings: Settings, fake: Fake) -> None:
    await fake.program("getUpdates", [{"status": 500}, {"status": 429, "retry_after": 1}])
    async with running_bot(bot_settings, fake):
        answer = await fake.reply(CHAT, "/support", "en")
    assert answer["text"].startswith("Support")


def webhook_settings(make: Callable[..., Settings], fake: Fake, **more: object) -> Settings:
    port = free_port()
    return make(
        telegram_bot_token=TOKEN,
        telegram_api_url=fake.url,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        telegram_webhook_listen=f"127.0.0.1:{port}",
        **more,
    )


async def test_webhook_mode_sets_the_webhook_and_checks_the_secret(
    make_settings: Callable[..., Settings], fake: Fake, bot_db: Database
) -> None:
    settings = webhook_settings(make_settings, fake)
    url = settings.telegram_webhook_url or ""
    secret = secret_of(TOKEN)
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "text": "/support",
        },
    }
    async with running_bot(settings, fake, ready="setWebhook"):
        assert (await fake.http.get("/_fake/webhook")).json() == {"url": url, "secret": secret}
        assert not await fake.calls("getUpdates")
        async with httpx.AsyncClient(timeout=5) as http:
            header = "X-Telegram-Bot-Api-Secret-Token"
            missing = await http.post(url, json=update)
            assert (missing.status_code, missing.json()["code"]) == (401, "UNAUTHORIZED")
            wrong = await http.post(url, json=update, headers={header: secret + "x"})
            assert (wrong.status_code, wrong.json()["code"]) == (403, "FORBIDDEN")
            big = await http.post(url, content=b"x" * 300_000, headers={header: secret})
            assert (big.status_code, big.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
            garbled = await http.post(url, content=b"{not json", headers={header: secret})
            assert (garbled.status_code, garbled.json()["code"]) == (400, "INVALID_BODY")
            assert (
                await http.post(url + "x", json=update, headers={header: secret})
            ).status_code == 404
            await asyncio.sleep(0.3)
            assert not await fake.sent()  # nothing refused was handled
            for _ in range(2):  # Telegram's retry of an update: handled once
                answered = await http.post(url, json=update, headers={header: secret})
                assert answered.status_code == 200
        await fake.wait_sent(CHAT, 1)
        # The fake posts what it is fed to the webhook, with the secret.
        answer = await fake.reply(CHAT, "/start", "en")
        assert "Hello, Client!" in answer["text"]
        await asyncio.sleep(0.5)
        assert len(await fake.sent(CHAT)) == 2
        async with bot_db.transaction() as session:
            health = await notifications.bot_health(session, utcnow())
    assert health is not None
    assert health.mode == "webhook"


async def test_webhook_with_a_secret_of_its_own(
    make_settings: Callable[..., Settings], fake: Fake
) -> None:
    settings = webhook_settings(make_settings, fake, telegram_webhook_secret="Own_secret-1")
    async with running_bot(settings, fake, ready="setWebhook"):
        assert (await fake.http.get("/_fake/webhook")).json()["secret"] == "Own_secret-1"
        answer = await fake.reply(CHAT, "/nope", "en")
    assert "/balance" in answer["text"]


def test_the_lock_key_is_the_bots_digest() -> None:
    from paywarden.bot.lock import advisory_key

    key = advisory_key(bot_id(TOKEN))
    assert -(2**63) <= key < 2**63
    assert key == advisory_key(bot_id(TOKEN)) != advisory_key(bot_id(TOKEN + "x"))
