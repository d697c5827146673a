"""The issuer's webhooks: stored once, handled once, in any order.

The endpoint inserts the event (its raw body, and its normalized form as `payload`) with the
provider's event id unique — a repeat inserts nothing and does nothing — then handles it in
the same database transaction, the handler inside a SAVEPOINT: a failing handler is rolled
back alone, the event stays stored with its status, error and attempts. The payload is the
adapter's parse (IssuerEventData), so retries and replays need no adapter. An event carrying
a 3-D Secure code is stored sealed and later redacted: the rule is in codes.py (`seal_event`).

An event whose prerequisite is missing (a refund before its settlement) stays `received`; the
worker's `process_due` (tasks.py) retries `received` and `failed` events with backoff
(2^attempts s) until MAX_ATTEMPTS, after which a waiting event is marked `failed`. Operators
list failures and replay them (the replay is one more attempt).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.card_transactions import codes, handlers
from paywarden.card_transactions import repository as repo
from paywarden.card_transactions.errors import EventAlreadyProcessed, EventNotFound, NotReady
from paywarden.issuer.base import IssuerEventData
from paywarden.kit.crypto import keys_of
from paywarden.kit.logging import get_logger
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.time import as_utc
from paywarden.models import IssuerEvent
from paywarden.models.cards import EVENT_FAILED, EVENT_PROCESSED, EVENT_RECEIVED

log = get_logger(__name__)

MAX_ATTEMPTS = 12  # 2 s, 4 s, ... ~34 min between the last tries: about an hour in all
MAX_ERROR = 1000
_TIMES = ("occurred_at", "code_expires_at")


def to_payload(e: IssuerEventData) -> dict[str, Any]:
    """The normalized event as JSON (times as ISO strings)."""
    out = asdict(e)
    out["extra"] = json.loads(json.dumps(dict(e.extra), default=str))
    for name in _TIMES:
        value = out[name]
        out[name] = value.isoformat() if value is not None else None
    return out


def from_payload(payload: dict[str, Any]) -> IssuerEventData:
    known = {f.name for f in fields(IssuerEventData)}
    values = {k: v for k, v in payload.items() if k in known}
    for name in _TIMES:
        if values.get(name):
            values[name] = as_utc(datetime.fromisoformat(values[name]))
    values["extra"] = values.get("extra") or {}
    return IssuerEventData(**values)


async def receive(
    db: AsyncSession, issuer: str, raw: bytes, e: IssuerEventData, now: datetime
) -> tuple[IssuerEvent, bool]:
    """Store the event; (the row, False) when the provider's event id was stored before."""
    occurred = as_utc(e.occurred_at)
    lag = int((now - occurred).total_seconds() * 1000) if occurred else None
    event_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": event_id,
        "issuer": issuer,
        "event_id": e.event_id,
        "event_type": (e.raw_type or e.kind)[:64],
        "occurred_at": occurred,
        "received_at": now,
        "lag_ms": max(lag, 0) if lag is not None else None,
        "raw_body": raw.decode("utf-8", errors="replace"),
        "payload": to_payload(e),
        "status": EVENT_RECEIVED,
        "attempts": 0,
    }
    if e.code:  # never stored in the clear (codes.py: the rule)
        expires = as_utc(e.code_expires_at) or now + handlers.CODE_TTL
        values.update(
            codes.seal_event(
                keys_of(db), raw, values["payload"], handlers.code_reference(e), expires
            )
        )
    new = await repo.insert_event(db, values)
    row = await repo.event_by_provider_id(db, issuer, e.event_id)
    assert row is not None
    return row, new


async def attempt(db: AsyncSession, event: IssuerEvent, now: datetime) -> str:
    """One try at handling a stored, locked event; returns its status after the try."""
    if event.status == EVENT_PROCESSED:
        return EVENT_PROCESSED
    event.attempts += 1
    data = from_payload({**event.payload, "code": codes.event_code(keys_of(db), event)})
    try:
        async with db.begin_nested():
            done = await handlers.handle(db, event.issuer, data, now)
    except NotReady as exc:
        await db.refresh(event)
        event.error = f"waiting: {exc}"[:MAX_ERROR]
        if event.attempts >= MAX_ATTEMPTS:
            event.status = EVENT_FAILED
        log.info(
            "issuer_event_waiting",
            issuer_event=str(event.id),
            kind=data.kind,
            attempts=event.attempts,
        )
        return event.status
    except Exception as exc:  # recorded on the event: the operator sees it and may replay
        await db.refresh(event)
        event.status = EVENT_FAILED
        event.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        log.warning(
            "issuer_event_failed",
            issuer_event=str(event.id),
            kind=data.kind,
            error_type=type(exc).__name__,
            attempts=event.attempts,
        )
        return EVENT_FAILED
    event.status = EVENT_PROCESSED
    event.error = None
    event.processed_at = now
    log.info("issuer_event_processed", issuer_event=str(event.id), kind=data.kind, done=done)
    return EVENT_PROCESSED


# ---- operators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxStats:
    received: int
    processed: int
    waiting: int  # received, not handled yet (a prerequisite missing)
    failed: int
    lag_p95_ms: int | None
    lag_p50_ms: int | None


async def stats(db: AsyncSession, now: datetime) -> InboxStats:
    """The last 24 hours: events per status and the lag between an event and its receipt."""
    since = now - timedelta(hours=24)
    counts = await repo.event_counts(db, since)
    return InboxStats(
        received=sum(counts.values()),
        processed=counts.get(EVENT_PROCESSED, 0),
        waiting=counts.get(EVENT_RECEIVED, 0),
        failed=counts.get(EVENT_FAILED, 0),
        lag_p95_ms=await repo.lag_percentile(db, since, 0.95),
        lag_p50_ms=await repo.lag_percentile(db, since, 0.50),
    )


async def search(db: AsyncSession, status: str | None, q: PageQuery) -> Page[IssuerEvent]:
    rows, total = await repo.list_events(db, status, q.offset, q.limit)
    return Page(list(rows), q.page, q.limit, total)


async def replay(db: AsyncSession, event_id: uuid.UUID, actor: Actor, now: datetime) -> IssuerEvent:
    """One more attempt at an event that is waiting or failed, audited (a processed event is
    refused: handling it again would change nothing)."""
    event = await repo.lock_event(db, event_id)
    if event is None:
        raise EventNotFound()
    if event.status == EVENT_PROCESSED:
        raise EventAlreadyProcessed()
    before = event.status
    after = await attempt(db, event, now)
    audit.record(
        db,
        actor,
        "issuer_event.replay",
        target_type="issuer_event",
        target_id=event.id,
        details={
            "event_id": event.event_id,
            "event_type": event.event_type,
            "before": before,
            "after": after,
            "attempts": event.attempts,
        },
    )
    return event
