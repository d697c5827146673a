"""Secrets at rest: TOTP secrets, merchants' webhook secrets and 3-D Secure codes become Fernet
tokens under the application key set (ENCRYPTION_KEYS); spent codes are cleared.

Columns that hold a token widen to Text; the issuer inbox gains `code_reference` and
`code_expires_at` (set while a row holds a live code). Existing rows are encrypted here, so the
key set is needed at migration time: the settings handed over by `paywarden migrate`
(config.attributes["settings"]), else the environment's. An empty database needs no key.

The data steps are frozen copies of the app's rules (card_transactions/codes.py): later changes
to the app must not change what this revision did.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 18:30:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 500
CODE_TTL = timedelta(minutes=5)  # handlers.CODE_TTL when this revision was written

operators = sa.table("operators", sa.column("id", sa.Uuid()), sa.column("totp_secret", sa.Text()))
enrollments = sa.table(
    "totp_enrollments", sa.column("id", sa.Uuid()), sa.column("secret", sa.Text())
)
merchants = sa.table(
    "merchants", sa.column("id", sa.Uuid()), sa.column("webhook_secret", sa.Text())
)
codes = sa.table(
    "codes_3ds",
    sa.column("id", sa.Uuid()),
    sa.column("issuer", sa.String()),
    sa.column("issuer_reference", sa.String()),
    sa.column("code", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
events = sa.table(
    "issuer_events",
    sa.column("id", sa.Uuid()),
    sa.column("issuer", sa.String()),
    sa.column("event_id", sa.String()),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("raw_body", sa.Text()),
    sa.column("payload", sa.JSON()),
    sa.column("code_reference", sa.String()),
    sa.column("code_expires_at", sa.DateTime(timezone=True)),
)


class _Keys:
    """The key set, loaded on first use only (an empty database needs none)."""

    def __init__(self) -> None:
        self._keyset: Any = None

    def get(self) -> Any:
        if self._keyset is None:
            from paywarden.config import load_settings
            from paywarden.kit.crypto import keyset_for

            settings = context.config.attributes.get("settings") or load_settings()
            self._keyset = keyset_for(settings)
        return self._keyset


def _rows(conn: sa.Connection, table: sa.TableClause, *columns: str) -> Iterator[sa.Row[Any]]:
    """Every row, in id order, a page at a time (a keyset page: safe while rows are updated)."""
    last = None
    while True:
        query = sa.select(table.c.id, *(table.c[c] for c in columns)).order_by(table.c.id)
        if last is not None:
            query = query.where(table.c.id > last)
        page = conn.execute(query.limit(BATCH)).all()
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1].id


def _convert(
    conn: sa.Connection, table: sa.TableClause, column: str, change: Callable[[str], str]
) -> None:
    for row in _rows(conn, table, column):
        value = getattr(row, column)
        if value is not None:
            conn.execute(table.update().where(table.c.id == row.id).values({column: change(value)}))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _redacted_body(raw: str, code: str) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return json.dumps({"redacted": "a 3-D Secure code event"})

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if not isinstance(value, bool) and isinstance(value, str | int):
            return "***" if str(value) == code else value
        return value

    return json.dumps(scrub(body), separators=(",", ":"))


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.Text(), nullable=True
        )
    with op.batch_alter_table("totp_enrollments", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=64), type_=sa.Text(), nullable=False
        )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.alter_column(
            "webhook_secret", existing_type=sa.String(length=255), type_=sa.Text(), nullable=False
        )
    with op.batch_alter_table("codes_3ds", schema=None) as batch_op:
        batch_op.alter_column(
            "code", existing_type=sa.String(length=16), type_=sa.Text(), nullable=True
        )
    with op.batch_alter_table("issuer_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_reference", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_issuer_events_code_reference", ["issuer", "code_reference"], unique=False
        )
        batch_op.create_index("ix_issuer_events_code_expires_at", ["code_expires_at"], unique=False)

    conn = op.get_bind()
    keys = _Keys()
    _convert(conn, operators, "totp_secret", lambda v: keys.get().encrypt(v))
    _convert(conn, enrollments, "secret", lambda v: keys.get().encrypt(v))
    _convert(conn, merchants, "webhook_secret", lambda v: keys.get().encrypt(v))

    now = datetime.now(UTC)
    live: set[tuple[str, str]] = set()
    for row in _rows(conn, codes, "issuer", "issuer_reference", "code", "status", "expires_at"):
        expires = _utc(row.expires_at)
        if row.status == "pending" and expires is not None and expires > now and row.code:
            live.add((row.issuer, row.issuer_reference))
            value = keys.get().encrypt(row.code)
        else:  # a spent code is kept nowhere
            value = None
        conn.execute(codes.update().where(codes.c.id == row.id).values(code=value))

    for row in _rows(conn, events, "issuer", "event_id", "received_at", "raw_body", "payload"):
        payload = dict(row.payload or {})
        code = payload.get("code")
        if not code:
            continue
        reference = str(
            payload.get("issuer_transaction_id")
            or (payload.get("extra") or {}).get("reference")
            or row.event_id
        )[:128]
        stated = payload.get("code_expires_at")
        expires = _utc(datetime.fromisoformat(stated)) if stated else None
        expires = expires or (_utc(row.received_at) or now) + CODE_TTL
        if (row.issuer, reference) in live and expires > now:
            values: dict[str, Any] = {
                "raw_body": keys.get().encrypt(row.raw_body),
                "payload": {**payload, "code": keys.get().encrypt(str(code))},
                "code_reference": reference,
                "code_expires_at": expires,
            }
        else:
            values = {
                "raw_body": _redacted_body(row.raw_body, str(code)),
                "payload": {**payload, "code": None},
            }
        conn.execute(events.update().where(events.c.id == row.id).values(values))


def downgrade() -> None:
    conn = op.get_bind()
    keys = _Keys()
    _convert(conn, operators, "totp_secret", lambda v: keys.get().decrypt(v))
    _convert(conn, enrollments, "secret", lambda v: keys.get().decrypt(v))
    _convert(conn, merchants, "webhook_secret", lambda v: keys.get().decrypt(v))
    _convert(conn, codes, "code", lambda v: keys.get().decrypt(v))
    conn.execute(codes.update().where(codes.c.code.is_(None)).values(code=""))
    for row in _rows(conn, events, "raw_body", "payload", "code_expires_at"):
        if row.code_expires_at is None:
            continue
        payload = dict(row.payload or {})
        token = payload.get("code")
        conn.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(
                raw_body=keys.get().decrypt_bytes(row.raw_body).decode("utf-8", "replace"),
                payload={**payload, "code": keys.get().decrypt(token) if token else None},
            )
        )

    with op.batch_alter_table("issuer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_issuer_events_code_expires_at")
        batch_op.drop_index("ix_issuer_events_code_reference")
        batch_op.drop_column("code_expires_at")
        batch_op.drop_column("code_reference")
    with op.batch_alter_table("codes_3ds", schema=None) as batch_op:
        batch_op.alter_column(
            "code", existing_type=sa.Text(), type_=sa.String(length=16), nullable=False
        )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.alter_column(
            "webhook_secret", existing_type=sa.Text(), type_=sa.String(length=255), nullable=False
        )
    with op.batch_alter_table("totp_enrollments", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.Text(), type_=sa.String(length=64), nullable=False
        )
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret", existing_type=sa.Text(), type_=sa.String(length=64), nullable=True
        )
