"""`paywarden bot` as a real process: it refuses to start without a good token, one process per
token holds the lock while a second stands by and takes over when the first is killed, `serve`
starts it beside the worker, and a bot killed mid-send loses no notification."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.models.notifications import Notification
from paywarden.notifications import service as notifications
from tests.bot.conftest import TOKEN, Fake, tail
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.servers import (
    PAYWARDEN,
    children,
    development_env,
    free_port,
    serve_process,
    stop_process,
)
from tests.workers import until


def bot_env(database_url: str, tmp_path: Path, fake: Fake, **more: str) -> dict[str, str]:
    settings = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "LOG_LEVEL": "INFO",
        "PUBLIC_BASE_URL": "https://pay.example.com",
    }
    env = development_env(database_url, tmp_path / "var", **{**settings, **more})
    env.pop("TELEGRAM_WEBHOOK_URL", None)
    return env


@contextlib.asynccontextmanager
async def bot_process(env: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            PAYWARDEN,
            "bot",
            "--poll-timeout",
            "1",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        yield process
    finally:
        await stop_process(process)


async def wait_for(log: Path, text: str, within: float = 20) -> None:
    async def logged() -> bool:
        return text in tail(log)

    await until(logged, within, f"{text!r} in the log", log)


def run_bot_command(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PAYWARDEN, "bot"], env=env, cwd=cwd, capture_output=True, timeout=60, check=False
    )


async def test_refuses_to_start_without_a_token(tmp_path: Path, database_url: str) -> None:
    env = development_env(database_url, tmp_path / "var")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = await asyncio.to_thread(run_bot_command, env, tmp_path)
    assert done.returncode == 2
    assert b"configuration error: TELEGRAM_BOT_TOKEN is not set" in done.stderr


async def test_refuses_a_token_telegram_refuses(
    tmp_path: Path, database_url: str, fake: Fake
) -> None:
    env = bot_env(database_url, tmp_path, fake, TELEGRAM_BOT_TOKEN="999:not-this-bot")
    done = await asyncio.to_thread(run_bot_command, env, tmp_path)
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    assert b"refused TELEGRAM_BOT_TOKEN" in done.stderr
    assert b"not-this-bot" not in done.stdout + done.stderr  # never the token in the output


async def test_a_second_bot_stands_by_and_takes_over(
    tmp_path: Path, database_url: str, fake: Fake
) -> None:
    env = bot_env(database_url, tmp_path, fake)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(env, first_log) as first:
        await fake.reply(1001, "/support", "en")  # the first one answers
        async with bot_process(env, second_log) as second:
            await wait_for(second_log, "bot_standby")
            await fake.reply(1001, "/support")
            await asyncio.sleep(1.5)
            assert len(await fake.sent(1001)) == 2  # answered once, by the first
            first.kill()  # SIGKILL: its lock goes with its connection or its file
            await first.wait()
            await wait_for(second_log, "bot_lock_taken_over")
            answer = await fake.reply(1001, "/support")
            assert answer["text"].startswith("Support")
            assert second.returncode is None
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0, tail(second_log)
    assert TOKEN not in tail(first_log) + tail(second_log)


def bot_children(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if argv[-2:] == [b"bot", b""]:
                found.append(child)
    return found


@pytest.mark.parametrize("no_bot", [False, True], ids=["with-token", "no-bot"])
async def test_serve_starts_the_bot_beside_the_worker(
    tmp_path: Path, database_url: str, fake: Fake, no_bot: bool
) -> None:
    port = free_port()
    env = bot_env(database_url, tmp_path, fake, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    args = ("--no-bot",) if no_bot else ()
    async with serve_process(*args, port=port, env=env, cwd=tmp_path) as server:
        if no_bot:
            await asyncio.sleep(3)
            assert bot_children(server.pid) == []
            assert not await fake.calls()
            return
        answer = await fake.reply(2002, "/support", "en")
        assert answer["text"].startswith("Support")
        [bot] = bot_children(server.pid)
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 30) == 0
        with pytest.raises(ProcessLookupError):  # stopped with serve
            os.kill(bot, 0)
    # The stopped bot's last long poll (25 s) still waits at the fake: an update ends it.
    await fake.say(2002, "/start")


async def test_nothing_is_lost_when_the_bot_is_killed_mid_send(
    tmp_path: Path, database_url: str, fake: Fake, bot_db: Database
) -> None:
    chats = [3000 + n for n in range(5)]
    async with bot_db.transaction() as session:
        for chat in chats:
            client = await clients.upsert_client(session, f"tg_{chat}")
            for n in range(2):
                written = await notifications.enqueue(
                    session,
                    client_id=client.id,
                    kind="card_approved",
                    key=str(uuid.uuid4()),
                    params={
                        "card_last4": "4242",
                        "merchant": f"Shop {chat}-{n}",
                        "amount": 1250,
                        "currency": "EUR",
                    },
                )
                assert written
    held = 3
    await fake.program("sendMessage", [{"hold": 5}] * held)
    env = bot_env(database_url, tmp_path, fake)
    log = tmp_path / "bot.log"
    async with bot_process(env, log) as first:

        async def holding() -> bool:
            return len([c for c in await fake.calls("sendMessage") if "held" in c]) >= held

        await until(holding, 20, "the sends held at the fake", log)
        first.kill()  # mid-send: three sends are held at the fake
        await first.wait()
    async with bot_db.transaction() as session:
        in_flight = {
            n.params["merchant"]
            for n in (await session.scalars(select(Notification))).all()
            if n.status == "sending"
        }
    assert len(in_flight) >= held
    async with bot_process(env, log):
        try:
            async with asyncio.timeout(40):
                while True:
                    async with bot_db.transaction() as session:
                        rows = (await session.scalars(select(Notification))).all()
                    if all(r.status == "sent" for r in rows):
                        break
                    await asyncio.sleep(0.2)
        except TimeoutError:
            pytest.fail(f"not all sent: {[r.status for r in rows]}\n{tail(log)}")
    sent = await fake.sent()
    assert len(rows) == 10
    by_text: dict[str, int] = {}
    for message in sent:
        by_text[message["text"]] = by_text.get(message["text"], 0) + 1
    for row in rows:  # each reached the fake, at least once
        merchant = row.params["merchant"]
        assert any(merchant in text for text in by_text), merchant
    assert all(row.message_id in {m["message_id"] for m in sent} for row in rows)
    # Only a send in flight at the kill (claimed, its outcome not written) may have reached the
    # fake twice: the held ones, and any the fake answered just before the kill.
    assert len(sent) <= len(rows) + len(in_flight)
    twice = {text for text, count in by_text.items() if count > 1}
    assert all(any(m in text for m in in_flight) for text in twice), (twice, in_flight)
    assert max(by_text.values()) <= 2
