"""The overview's health block tells of the Telegram bot: never started, running (a heartbeat
within the last minute) or stopped (an older one, with its time), its mode, username and last
error; and of its notification queue: what waits, how long the oldest has waited, and what
became of the last 24 hours' notifications."""

from __future__ import annotations

from datetime import timedelta

import httpx

from paywarden.kit.db import Database
from paywarden.kit.time import iso, utcnow
from tests.client_admin.bot_notifications import beat, told
from tests.clients.test_auth import make_client

OVERVIEW = "/api/v1/admin/analytics/overview"


async def health(admin_client: httpx.AsyncClient) -> dict:
    response = await admin_client.get(OVERVIEW)
    assert response.status_code == 200, response.text
    return response.json()["health"]


async def test_a_bot_that_never_ran_and_an_empty_queue(admin_client: httpx.AsyncClient) -> None:
    h = await health(admin_client)
    assert h["bot"] == {
        "status": "never_started",
        "mode": None,
        "username": None,
        "holder": None,
        "started_at": None,
        "heartbeat_at": None,
        "last_update_at": None,
        "last_error": None,
    }
    assert h["notifications"] == {
        "pending": 0,
        "sending": 0,
        "oldest_pending_s": None,
        "sent_24h": 0,
        "failed_24h": 0,
        "blocked_24h": 0,
    }


async def test_a_running_bot_then_a_stopped_one(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    now = utcnow()
    await beat(db, now - timedelta(seconds=5), last_update_at=now - timedelta(seconds=30))
    bot = (await health(admin_client))["bot"]
    assert bot["status"] == "running"
    assert (bot["mode"], bot["username"], bot["holder"]) == ("polling", "paywarden_bot", "host:42")
    assert bot["last_update_at"] is not None
    assert bot["last_error"] is None

    # The heartbeat stops: two minutes later the bot reads stopped, with when it was last seen.
    stale = now - timedelta(minutes=2)
    await beat(db, stale, last_error="Conflict: terminated by other getUpdates request")
    bot = (await health(admin_client))["bot"]
    assert bot["status"] == "stopped"
    assert bot["heartbeat_at"] == iso(stale)
    assert bot["last_error"] == "Conflict: terminated by other getUpdates request"


async def test_the_queue_figures(admin_client: httpx.AsyncClient, db: Database) -> None:
    now = utcnow()
    ann, bob = await make_client(db, "tg_501"), await make_client(db, "tg_502")
    await told(db, ann.id, "code_3ds", "pending", created_at=now - timedelta(seconds=90))
    await told(db, ann.id, "low_balance", "pending", created_at=now - timedelta(seconds=10))
    await told(db, bob.id, "card_declined", "sending", created_at=now - timedelta(seconds=2))
    for minutes in (5, 6, 7):
        await told(
            db, ann.id, "topup_credited", "sent", created_at=now - timedelta(minutes=minutes)
        )
    await told(db, ann.id, "topup_credited", "sent", created_at=now - timedelta(hours=30))
    await told(db, bob.id, "card_declined", "failed", created_at=now - timedelta(hours=1))
    await told(db, bob.id, "topup_credited", "blocked", created_at=now - timedelta(hours=2))
    await told(db, bob.id, "topup_credited", "blocked", created_at=now - timedelta(hours=40))
    await told(db, bob.id, "low_balance", "skipped", created_at=now - timedelta(hours=1))

    q = (await health(admin_client))["notifications"]
    assert q["pending"] == 2
    assert q["sending"] == 1
    assert 90 <= q["oldest_pending_s"] < 120
    assert (q["sent_24h"], q["failed_24h"], q["blocked_24h"]) == (3, 1, 1)
