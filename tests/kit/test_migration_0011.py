"""Revision 0011 encrypts the plaintext secrets a 0010 database holds, clears spent 3-D Secure
codes, and its downgrade gives the plaintext back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from paywarden.config import Settings
from paywarden.kit.crypto import KeySet
from paywarden.kit.migrations import current_revision, downgrade, upgrade
from paywarden.models import Base
from tests.kit.test_migrations import empty_engine  # noqa: F401

KEY = Fernet.generate_key().decode()
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ENROLLING = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
WEBHOOK = "whsec-legacy-plaintext-0123"
LIVE, SPENT = "918273", "564738"
T = Base.metadata.tables


def _event(ids: dict[str, uuid.UUID], name: str, tx: str, code: str, expires: datetime) -> dict:
    raw = json.dumps(
        {"id": f"evt_{name}", "type": "authentication.otp", "data": {"otp": code, "tx": tx}},
        separators=(",", ":"),
    )
    return {
        "id": ids[name],
        "issuer": "sandbox",
        "event_id": f"evt_{name}",
        "event_type": "authentication.otp",
        "received_at": datetime.now(UTC),
        "raw_body": raw,
        "payload": {
            "event_id": f"evt_{name}",
            "kind": "3ds.code",
            "issuer_transaction_id": tx,
            "code": code,
            "code_expires_at": expires.isoformat(),
            "extra": {},
        },
        "status": "processed",
        "attempts": 1,
    }


def _fill_0010(conn: Connection, ids: dict[str, uuid.UUID]) -> None:
    """Plaintext rows as a 0010 install holds them (only 0010's columns are written)."""
    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    conn.execute(
        insert(T["operators"]).values(
            id=ids["op"], email="legacy@example.com", password_hash="x", role="operator",
            is_primary=False, totp_secret=TOTP, totp_enabled=True, created_at=now,
        )
    )  # fmt: skip
    conn.execute(
        insert(T["totp_enrollments"]).values(
            id=ids["enroll"], operator_id=ids["op"], token_hash="h" * 64, secret=ENROLLING,
            created_at=now, expires_at=later,
        )
    )  # fmt: skip
    conn.execute(
        insert(T["merchants"]).values(
            id=ids["merchant"], name="Legacy Shop", api_key_hash="k" * 64, api_key_prefix="pk_",
            webhook_secret=WEBHOOK, is_active=True, is_internal=False, created_at=now,
            updated_at=now,
        )
    )  # fmt: skip
    conn.execute(
        insert(T["clients"]).values(id=ids["client"], external_user_id="tg_legacy", created_at=now)
    )
    conn.execute(
        insert(T["cards"]).values(
            id=ids["card"], client_id=ids["client"], issuer="sandbox", issuer_card_id="card_l",
            currency="EUR", monthly_limit=100_000, spent_this_month=0, status="active",
            issue_fee=0, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    for name, tx, code, status in (
        ("live", "tx_live", LIVE, "pending"),
        ("spent", "tx_spent", SPENT, "used"),
    ):
        conn.execute(
            insert(T["codes_3ds"]).values(
                id=ids[f"code_{name}"], card_id=ids["card"], client_id=ids["client"],
                issuer="sandbox", issuer_reference=tx, code=code, amount=100, currency="EUR",
                status=status, expires_at=later, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        conn.execute(insert(T["issuer_events"]).values(_event(ids, name, tx, code, later)))


def _one(conn: Connection, table: str, column: str, key: uuid.UUID) -> Any:
    t = T[table]
    return conn.execute(select(t.c[column]).where(t.c.id == key)).scalar_one()


async def _run(engine: AsyncEngine, fn: Callable[[Connection], Any]) -> Any:
    async with engine.begin() as conn:
        return await conn.run_sync(fn)


async def test_0011_encrypts_plaintext_rows_and_its_downgrade_restores_them(
    empty_engine: AsyncEngine,  # noqa: F811
    make_settings: Callable[..., Settings],
) -> None:
    ids = {
        n: uuid.uuid4()
        for n in ("op", "enroll", "merchant", "client", "card", "code_live", "code_spent")
    }
    ids |= {"live": uuid.uuid4(), "spent": uuid.uuid4()}
    await upgrade(empty_engine, "0010")
    await _run(empty_engine, lambda c: _fill_0010(c, ids))

    await upgrade(empty_engine, "0011", settings=make_settings(encryption_keys=KEY))
    assert await current_revision(empty_engine) == "0011"
    keys = KeySet.parse(KEY)

    def check_encrypted(conn: Connection) -> None:
        def one(table: str, column: str, key: uuid.UUID) -> Any:
            return _one(conn, table, column, key)

        for table, column, key, plain in (
            ("operators", "totp_secret", ids["op"], TOTP),
            ("totp_enrollments", "secret", ids["enroll"], ENROLLING),
            ("merchants", "webhook_secret", ids["merchant"], WEBHOOK),
            ("codes_3ds", "code", ids["code_live"], LIVE),
        ):
            stored = one(table, column, key)
            assert stored != plain
            assert keys.decrypt(stored) == plain
        assert one("codes_3ds", "code", ids["code_spent"]) is None  # a spent code is not kept
        # The live code's inbox row: sealed, and tied to its purchase until the code lapses.
        assert one("issuer_events", "code_reference", ids["live"]) == "tx_live"
        assert one("issuer_events", "code_expires_at", ids["live"]) is not None
        assert LIVE in keys.decrypt(one("issuer_events", "raw_body", ids["live"]))
        assert keys.decrypt(one("issuer_events", "payload", ids["live"])["code"]) == LIVE
        # The spent code's inbox row: redacted, everything else kept.
        body = one("issuer_events", "raw_body", ids["spent"])
        assert SPENT not in body
        assert json.loads(body)["data"] == {"otp": "***", "tx": "tx_spent"}
        payload = one("issuer_events", "payload", ids["spent"])
        assert payload["code"] is None
        assert payload["issuer_transaction_id"] == "tx_spent"
        assert one("issuer_events", "code_expires_at", ids["spent"]) is None

    await _run(empty_engine, check_encrypted)

    await downgrade(empty_engine, "0010", settings=make_settings(encryption_keys=KEY))

    def check_plain(conn: Connection) -> None:
        rows = {
            "totp": conn.execute(select(T["operators"].c.totp_secret)).scalar_one(),
            "enrolling": conn.execute(select(T["totp_enrollments"].c.secret)).scalar_one(),
            "webhook": conn.execute(select(T["merchants"].c.webhook_secret)).scalar_one(),
        }
        assert rows == {"totp": TOTP, "enrolling": ENROLLING, "webhook": WEBHOOK}
        events = T["issuer_events"]
        raw = conn.execute(select(events.c.raw_body).where(events.c.id == ids["live"]))
        assert LIVE in raw.scalar_one()

    await _run(empty_engine, check_plain)
    async with empty_engine.connect() as conn:  # 0010's columns only: plain SQL
        codes = await conn.exec_driver_sql("SELECT issuer_reference, code FROM codes_3ds")
        assert sorted(codes.all()) == [("tx_live", LIVE), ("tx_spent", "")]
        body = await conn.exec_driver_sql("SELECT raw_body FROM issuer_events")
        assert sum(LIVE in r[0] for r in body.all()) == 1
    await upgrade(empty_engine, settings=make_settings(encryption_keys=KEY))
