"""Notifications as the bot leaves them, for the pages and APIs that show them: written through
the outbox's own `enqueue`, then moved to a status the way the sender would have left it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client
from paywarden.models.notifications import Notification
from paywarden.notifications import service as notifications

PARAMS: dict[str, dict[str, Any]] = {
    "code_3ds": {
        "code_id": str(uuid.uuid4()),
        "card_last4": "4242",
        "merchant": "Steam Games",
        "amount": 1500,
        "currency": "EUR",
        "expires_at": "2030-01-01T00:00:00+00:00",
    },
    "card_declined": {
        "card_last4": "4242",
        "merchant": "Uber Trip",
        "amount": 900,
        "currency": "EUR",
        "reason": "insufficient_funds",
    },
    "topup_credited": {"amount": 9700, "currency": "USD", "usdt": 100_000_000},
    "low_balance": {"currency": "EUR", "balance": 400, "threshold": 500},
}


async def told(
    db: Database,
    client_id: uuid.UUID,
    kind: str,
    status: str,
    *,
    created_at: datetime,
    attempts: int = 1,
    last_error: str | None = None,
    deleted: bool = False,
) -> uuid.UUID:
    """One notification of `kind` (its params from PARAMS), left in `status`."""
    key = str(uuid.uuid4())
    async with db.transaction() as session:
        written = await notifications.enqueue(
            session, client_id=client_id, kind=kind, key=key, params=PARAMS[kind]
        )
        assert written
    async with db.transaction() as session:
        row = await session.scalar(
            select(Notification).where(Notification.event_key == f"{kind}:{key}")
        )
        assert row is not None
        row.status, row.attempts, row.last_error = status, attempts, last_error
        row.created_at = created_at
        if status == "sent":
            row.sent_at, row.message_id = created_at + timedelta(seconds=1), 77
        if deleted:
            row.deleted_at = created_at + timedelta(minutes=5)
        return row.id


async def block_bot(db: Database, client_id: uuid.UUID, at: datetime | None = None) -> None:
    """The client blocked the bot (the sender saw a 403)."""
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.bot_blocked_at = at or utcnow()


async def beat(
    db: Database,
    at: datetime,
    *,
    mode: str = "polling",
    last_update_at: datetime | None = None,
    last_error: str | None = None,
) -> None:
    """The bot's heartbeat at `at` (@paywarden_bot, running for an hour then)."""
    async with db.transaction() as session:
        await notifications.heartbeat(
            session,
            bot_id="bot-1",
            username="paywarden_bot",
            mode=mode,
            holder="host:42",
            started_at=at - timedelta(hours=1),
            now=at,
            last_update_at=last_update_at,
            last_error=last_error,
        )
