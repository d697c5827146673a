"""What the 3-D Secure and inbox routes answer (amounts: strings with 2 decimals)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel

from paywarden.card_transactions.codes import ClientCode, CodeStats
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.models import IssuerEvent
from paywarden.plans.amounts import format_cents


class Code3dsOut(BaseModel):
    id: uuid.UUID
    code: str | None  # null once used, declined or expired: a spent code is kept nowhere
    merchant: str | None
    amount: str
    currency: str
    status: str
    expires_at: str

    @classmethod
    def of(cls, c: ClientCode) -> Code3dsOut:
        return cls(
            id=c.id,
            code=c.code,
            merchant=c.merchant,
            amount=format_cents(c.amount),
            currency=c.currency,
            status=c.status,
            expires_at=iso(c.expires_at) or "",
        )


class CodesOut(BaseModel):
    data: list[Code3dsOut]


class CodeStatsOut(BaseModel):
    requests_today: int
    requests_7d: int
    approval_rate_7d: str | None  # percent, one decimal ("92.5"); null before any decided code
    expired_7d: int

    @classmethod
    def of(cls, s: CodeStats) -> CodeStatsOut:
        rate = str(s.approval_rate_7d) if s.approval_rate_7d is not None else None
        return cls(
            requests_today=s.requests_today,
            requests_7d=s.requests_7d,
            approval_rate_7d=rate,
            expired_7d=s.expired_7d,
        )


class IssuerEventQuery(PageQuery):
    status: Literal["received", "processed", "failed"] | None = None


def _redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """The parsed event without its 3-D Secure code (operators need the rest, not the code)."""
    return {k: ("***" if k == "code" and v else v) for k, v in payload.items()}


class IssuerEventOut(BaseModel):
    id: uuid.UUID
    issuer: str
    event_id: str
    event_type: str
    kind: str | None
    status: str
    attempts: int
    error: str | None
    occurred_at: str | None
    received_at: str
    processed_at: str | None
    lag_ms: int | None
    transaction_id: str | None  # the issuer's transaction id, when the event has one
    payload: dict[str, Any]

    @classmethod
    def of(cls, e: IssuerEvent) -> IssuerEventOut:
        payload = e.payload or {}
        return cls(
            id=e.id,
            issuer=e.issuer,
            event_id=e.event_id,
            event_type=e.event_type,
            kind=payload.get("kind"),
            status=e.status,
            attempts=e.attempts,
            error=e.error,
            occurred_at=iso(e.occurred_at),
            received_at=iso(e.received_at) or "",
            processed_at=iso(e.processed_at),
            lag_ms=e.lag_ms,
            transaction_id=payload.get("issuer_transaction_id"),
            payload=_redacted(payload),
        )


class IssuerEventStatsOut(BaseModel):
    """The last 24 hours of the inbox: the seed's "Webhook lag (p95)", "Failed webhooks (24h)"."""

    received_24h: int
    processed_24h: int
    waiting_24h: int
    failed_24h: int
    lag_p95_ms: int | None
    lag_p50_ms: int | None


class IssuerEventPage(BaseModel):
    data: list[IssuerEventOut]
    pagination: Pagination
    stats: IssuerEventStatsOut
