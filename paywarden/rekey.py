"""`paywarden rekey`: every encrypted column re-encrypted under the first key of its key set.

Rotation: put a new key first in ENCRYPTION_KEYS (the old one after it), restart, run `rekey`,
then drop the old key. Each table is read in id order a batch at a time, each batch in its own
transaction with its rows locked (PostgreSQL; SQLite's writer lock serializes), so the app can
keep running. A value the first key already opens is left as it is: a second run changes
nothing. A value no key opens is counted as failed and left untouched (the command then exits
non-zero): the key that made it is missing from the set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from paywarden.audit import service as audit
from paywarden.audit.context import CLI
from paywarden.config import Settings
from paywarden.kit.crypto import KeySet, UndecryptableError, keyset_for
from paywarden.kit.db import Database
from paywarden.models import B2bProfile, Code3ds, IssuerEvent, Merchant, Operator, TotpEnrollment

BATCH = 200


@dataclass
class Tally:
    checked: int = 0
    rekeyed: int = 0
    failed: int = 0


# A row's new values (column name: token), or {} when nothing changes; UndecryptableError when
# no key opens one of its tokens.
Change = Callable[[Any, KeySet], dict[str, Any]]


def _one(column: str) -> Change:
    def change(row: Any, keys: KeySet) -> dict[str, Any]:
        token = getattr(row, column)
        new = keys.rekey(token) if token else None
        return {column: new} if new else {}

    return change


def _event(row: Any, keys: KeySet) -> dict[str, Any]:
    """A sealed inbox row: its raw body and the code in its payload (codes.py: the rule)."""
    out: dict[str, Any] = {}
    body = keys.rekey(row.raw_body)
    if body:
        out["raw_body"] = body
    code = (row.payload or {}).get("code")
    new_code = keys.rekey(code) if code else None
    if new_code:
        out["payload"] = {**row.payload, "code": new_code}
    return out


@dataclass(frozen=True)
class Column:
    label: str
    model: Any
    where: Any  # which rows hold a token
    change: Change
    b2b: bool = False  # under the B2B key set (B2B_ENCRYPTION_KEY, else ENCRYPTION_KEYS)


def _columns() -> list[Column]:
    def present(attr: InstrumentedAttribute[Any]) -> Any:
        return attr.is_not(None)

    return [
        Column(
            "operators.totp_secret", Operator, present(Operator.totp_secret), _one("totp_secret")
        ),
        Column(
            "totp_enrollments.secret",
            TotpEnrollment,
            present(TotpEnrollment.secret),
            _one("secret"),
        ),
        Column(
            "merchants.webhook_secret",
            Merchant,
            present(Merchant.webhook_secret),
            _one("webhook_secret"),
        ),
        Column("codes_3ds.code", Code3ds, present(Code3ds.code), _one("code")),
        Column(
            "issuer_events (sealed 3-D Secure codes)",
            IssuerEvent,
            present(IssuerEvent.code_expires_at),
            _event,
        ),
        Column(
            "b2b_profiles.secret_encrypted",
            B2bProfile,
            present(B2bProfile.secret_encrypted),
            _one("secret_encrypted"),
            b2b=True,
        ),
    ]


async def _rekey_column(db: Database, column: Column, keys: KeySet, batch: int) -> Tally:
    tally = Tally()
    last = None
    model = column.model
    while True:
        async with db.transaction() as session:
            query = select(model).where(column.where).order_by(model.id).limit(batch)
            if last is not None:
                query = query.where(model.id > last)
            rows = (await session.scalars(query.with_for_update())).all()
            for row in rows:
                tally.checked += 1
                try:
                    values = column.change(row, keys)
                except UndecryptableError:
                    tally.failed += 1
                    continue
                for name, value in values.items():
                    setattr(row, name, value)
                tally.rekeyed += bool(values)
        if len(rows) < batch:
            return tally
        last = rows[-1].id


async def rekey(settings: Settings, *, batch: int = BATCH) -> dict[str, Tally]:
    """Re-encrypt every encrypted column under the first key; the tally per column."""
    from paywarden.b2b.crypto import keyset_for as b2b_keyset_for
    from paywarden.context import database

    app_keys = keyset_for(settings)
    b2b_keys = b2b_keyset_for(settings)
    db = database(settings)
    report: dict[str, Tally] = {}
    try:
        for column in _columns():
            keys = b2b_keys if column.b2b else app_keys
            if keys is None:  # production without a B2B key holds no profile it could read
                continue
            report[column.label] = await _rekey_column(db, column, keys, batch)
        async with db.transaction() as session:  # an operator's action: audited, as `cli`
            audit.record(
                session,
                CLI,
                "secrets.rekey",
                details={label: vars(t) for label, t in report.items()},
            )
    finally:
        await db.dispose()
    return report
