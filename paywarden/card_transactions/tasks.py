"""The issuer inbox's and the 3-D Secure codes' worker passes (the rules are in inbox.py and
codes.py): retry issuer events left waiting or failed, expire lapsed codes."""

from __future__ import annotations

from datetime import datetime, timedelta

from paywarden.card_transactions import codes
from paywarden.card_transactions import repository as repo
from paywarden.card_transactions.inbox import MAX_ATTEMPTS, attempt
from paywarden.kit.db import Database
from paywarden.kit.time import as_utc, utcnow
from paywarden.models import IssuerEvent
from paywarden.models.cards import EVENT_PROCESSED

BATCH = 100


def _due(event: IssuerEvent, now: datetime) -> bool:
    received = as_utc(event.received_at)
    assert received is not None
    return now - received >= timedelta(seconds=2 ** min(event.attempts, 20))


async def process_due(db: Database, now: datetime | None = None) -> int:
    """The worker's pass: retry waiting and failed events whose backoff has passed, each in its
    own transaction, skipping events another worker holds. Returns the events processed."""
    now = now or utcnow()
    async with db.transaction() as session:
        ids = await repo.due_events(session, now - timedelta(seconds=1), MAX_ATTEMPTS, BATCH)
    done = 0
    for event_id in ids:
        async with db.transaction() as session:
            event = await repo.lock_event(session, event_id, skip_locked=not db.is_sqlite)
            if event is None or event.status == EVENT_PROCESSED or event.attempts >= MAX_ATTEMPTS:
                continue
            if not _due(event, now):
                continue
            if await attempt(session, event, now) == EVENT_PROCESSED:
                done += 1
    return done


async def expire_codes(db: Database, now: datetime | None = None) -> int:
    """The worker's pass (every 15 s), in one transaction: lapsed codes expire and spent ones
    are redacted from the inbox (`codes.expire_due`). Returns the codes expired."""
    async with db.transaction() as session:
        return await codes.expire_due(session, now or utcnow())
