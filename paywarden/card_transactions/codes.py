"""3-D Secure codes: what the client reads (in the app, or from the bot: `plain_code`), their
expiry, and the counts of the Risk / 3DS block.

A code arrives by webhook (`3ds.code`, see handlers), `pending` until the purchase it is for is
authorized (`used`), declined by the issuer for a failed 3-D Secure (`declined`), or its time
passes (`expired`, by the worker's `expire_due`). The code is never logged.

At rest the code is a Fernet token under the application key set (kit/crypto), and it is kept
only while it can serve: leaving `pending` clears it from `codes_3ds` in the same UPDATE. The
issuer event that brought it is sealed and redacted by the rule below (`seal_event`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import repository as repo
from paywarden.kit.crypto import KeySet, UndecryptableError, keys_of
from paywarden.models import Code3ds, IssuerEvent

RECENT = timedelta(days=1)  # what the client's app lists
RECENT_LIMIT = 20
CLEAR_BATCH = 200  # inbox rows redacted per pass
REDACTED = "***"


@dataclass(frozen=True)
class ClientCode:
    """A code as its client sees it: decrypted while pending, None once spent."""

    id: uuid.UUID
    code: str | None
    merchant: str | None
    amount: int
    currency: str
    status: str
    expires_at: datetime
    card_id: uuid.UUID | None = None
    created_at: datetime | None = None

    def __repr__(self) -> str:  # the code stays out of logs and tracebacks
        return f"ClientCode(id={self.id}, status={self.status!r})"


async def for_client(db: AsyncSession, client_id: uuid.UUID, now: datetime) -> Sequence[ClientCode]:
    """The client's codes of the last day, newest first (at most RECENT_LIMIT)."""
    rows = await repo.client_codes(db, client_id, now - RECENT, RECENT_LIMIT)
    keys = keys_of(db)
    return [_client_code(c, keys) for c in rows]


# The client app's two lists. A code is live while it can still be typed: `pending` and not
# past `expires_at` (the worker marks a lapsed code `expired` only on its next pass, so the
# clock decides here, not the status). Every other code is past, and shown without its value.


async def live_for(db: AsyncSession, client_id: uuid.UUID, now: datetime) -> list[ClientCode]:
    """The client's live codes, newest first, decrypted (at most RECENT_LIMIT)."""
    rows = await repo.client_live_codes(db, client_id, now, RECENT_LIMIT)
    keys = keys_of(db)
    return [_client_code(c, keys) for c in rows]


async def past_for(
    db: AsyncSession, client_id: uuid.UUID, now: datetime, limit: int = RECENT_LIMIT
) -> list[ClientCode]:
    """The client's codes that can no longer serve, newest first, without their value: used,
    declined or expired (a pending one past its time counts as expired)."""
    rows = await repo.client_past_codes(db, client_id, now, limit)
    return [_client_code(c, None, "expired" if c.status == "pending" else c.status) for c in rows]


async def plain_code(db: AsyncSession, code_id: uuid.UUID, now: datetime) -> str | None:
    """The code in clear, for the bot's message sent at `now`; None when it can no longer
    serve (used, declined, expired, past its time, gone) or no key opens it."""
    # populate_existing: the sender's session may hold the row from before it was spent.
    code = await db.get(Code3ds, code_id, populate_existing=True)
    if code is None or code.status != "pending" or code.expires_at <= now:
        return None
    return _open(keys_of(db), code.code)


def _client_code(c: Code3ds, keys: KeySet | None, status: str | None = None) -> ClientCode:
    """The row as its client sees it; the value opened only with `keys` and while pending."""
    return ClientCode(
        id=c.id,
        code=_open(keys, c.code) if keys is not None and c.status == "pending" else None,
        merchant=c.merchant,
        amount=c.amount,
        currency=c.currency,
        status=status or c.status,
        expires_at=c.expires_at,
        card_id=c.card_id,
        created_at=c.created_at,
    )


def _open(keys: KeySet, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return keys.decrypt(token)
    except UndecryptableError:  # a key dropped too early: the code is lost, not the page
        return None


async def expire_due(db: AsyncSession, now: datetime) -> int:
    """Pending codes past their expiry become `expired` (their code cleared), and the inbox
    rows holding spent or lapsed codes are redacted. Returns the codes expired."""
    expired = await repo.expire_codes(db, now)
    await repo.clear_spent_codes(db)
    keys = keys_of(db)
    skip = db.get_bind().dialect.name != "sqlite"
    for event in await repo.events_with_spent_codes(db, now, CLEAR_BATCH, skip_locked=skip):
        redact_event(event, keys)
    return expired


# ---- codes in the issuer inbox -------------------------------------------------------------
#
# The rule. An issuer event that carries a 3-D Secure code is stored sealed: its raw body
# encrypted whole (a Fernet token in `raw_body`), the code in its payload encrypted, and
# `code_reference` / `code_expires_at` set (the purchase the code is for, and when it lapses).
# Retries and operators' replays read the payload and decrypt the code, so replay works while
# the code can still serve. The worker's `expire_due` redacts the row once the code has lapsed,
# or once the event was handled and its purchase's code is no longer pending (used, declined,
# expired): `raw_body` becomes the issuer's JSON with the code's value replaced by "***", the
# payload's code null, both code columns null; ids, kind, status, timestamps stay. A redacted
# event replays without its code, which the handler refuses: a spent code never comes back.


def seal_event(
    keys: KeySet, raw: bytes, payload: dict[str, Any], reference: str, expires_at: datetime
) -> dict[str, Any]:
    """The columns of an inbox row that carries a code (payload["code"] set), sealed."""
    sealed = dict(payload)
    sealed["code"] = keys.encrypt(str(payload["code"]))
    return {
        "raw_body": keys.encrypt_bytes(raw),
        "payload": sealed,
        "code_reference": reference[:128],
        "code_expires_at": expires_at,
    }


def event_code(keys: KeySet, event: IssuerEvent) -> str | None:
    """The code a sealed event carries (None once redacted, or when no key opens it)."""
    if event.code_expires_at is None:
        return None
    return _open(keys, (event.payload or {}).get("code"))


def redact_event(event: IssuerEvent, keys: KeySet) -> None:
    """Drop the code from a sealed event for good (the rule above)."""
    code = event_code(keys, event)
    try:
        raw: bytes | None = keys.decrypt_bytes(event.raw_body)
    except UndecryptableError:
        raw = None
    event.raw_body = _redacted_body(raw, code)
    event.payload = {**(event.payload or {}), "code": None}
    event.code_reference = None
    event.code_expires_at = None


def _redacted_body(raw: bytes | None, code: str | None) -> str:
    """The issuer's JSON with every value equal to the code replaced (adapter-agnostic: the
    adapter put the code somewhere in it)."""
    try:
        body = json.loads(raw) if raw is not None else None
    except ValueError:
        body = None
    if body is None:
        return json.dumps({"redacted": "a 3-D Secure code event"})

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if code and not isinstance(value, bool) and isinstance(value, str | int):
            return REDACTED if str(value) == code else value
        return value

    return json.dumps(scrub(body), separators=(",", ":"))


@dataclass(frozen=True)
class CodeStats:
    requests_today: int
    requests_7d: int
    # used / (used + declined + expired) among the week's codes, in percent; None when none
    # was decided yet (pending ones wait).
    approval_rate_7d: Decimal | None
    expired_7d: int


def _start_of_day(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def stats(
    db: AsyncSession, client_id: uuid.UUID | None, now: datetime, tz: tzinfo = UTC
) -> CodeStats:
    """The seed's "Risk / 3DS" counts, for one client or (None) for all: "today" is the report
    time zone's day, the week the last 7 x 24 h."""
    today = await repo.code_counts(db, _start_of_day(now, tz), client_id)
    week = await repo.code_counts(db, now - timedelta(days=7), client_id)
    decided = week.get("used", 0) + week.get("declined", 0) + week.get("expired", 0)
    rate = None
    if decided:
        rate = (Decimal(week.get("used", 0) * 100) / decided).quantize(Decimal("0.1"))
    return CodeStats(
        requests_today=sum(today.values()),
        requests_7d=sum(week.values()),
        approval_rate_7d=rate,
        expired_7d=week.get("expired", 0),
    )
