"""Admin API for the issuer inbox (the seed's "Global webhook transactions"): the events, their
failures and lag, and a replay. Support work: any operator; a replay is audited."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from paywarden.card_transactions import inbox
from paywarden.card_transactions.schemas import (
    IssuerEventOut,
    IssuerEventPage,
    IssuerEventQuery,
    IssuerEventStatsOut,
)
from paywarden.kit.time import utcnow
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: issuer inbox"])


def _stats(s: inbox.InboxStats) -> IssuerEventStatsOut:
    return IssuerEventStatsOut(
        received_24h=s.received,
        processed_24h=s.processed,
        waiting_24h=s.waiting,
        failed_24h=s.failed,
        lag_p95_ms=s.lag_p95_ms,
        lag_p50_ms=s.lag_p50_ms,
    )


@router.get("/issuer-events", response_model=IssuerEventPage)
async def list_events(
    q: Annotated[IssuerEventQuery, Query()], db: Session, _: CurrentOperator
) -> IssuerEventPage:
    """Newest first; `status=failed` lists the failures. `stats` covers the last 24 hours."""
    page = await inbox.search(db, q.status, q)
    return IssuerEventPage(
        data=[IssuerEventOut.of(e) for e in page.items],
        pagination=page.pagination(),
        stats=_stats(await inbox.stats(db, utcnow())),
    )


@router.get("/issuer-events/stats", response_model=IssuerEventStatsOut)
async def event_stats(db: Session, _: CurrentOperator) -> IssuerEventStatsOut:
    """The last 24 hours: events per status, webhook lag p50 / p95 (ms)."""
    return _stats(await inbox.stats(db, utcnow()))


@router.post("/issuer-events/{event_id}/replay", response_model=IssuerEventOut)
async def replay_event(event_id: uuid.UUID, db: Session, actor: OperatorActor) -> IssuerEventOut:
    """Handle a waiting or failed event once more (409 EVENT_ALREADY_PROCESSED when it was
    handled); the outcome is in the answer's `status` and `error`."""
    return IssuerEventOut.of(await inbox.replay(db, event_id, actor, utcnow()))
