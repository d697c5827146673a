"""Secrets at rest: a database dump shows no TOTP secret, webhook secret or 3-D Secure code; a
spent code is gone even as ciphertext; `paywarden rekey` moves every value to the first key."""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from paywarden.b2b.crypto import vault_for
from paywarden.card_transactions import codes
from paywarden.config import Settings
from paywarden.kit.crypto import KeySet, keys_of
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, B2bProfile, Code3ds, IssuerEvent, Merchant, Operator
from paywarden.rekey import rekey
from tests.card_transactions.conftest import (
    authorization,
    authorize,
    event,
    make_buyer,
    send,
    tx_data,
)
from tests.clients.test_auth import BOT_TOKEN, bot_headers
from tests.conftest import start_app
from tests.factories import PASSWORD, create_merchant, create_operator
from tests.test_cli import run_cli

LOGIN = "/api/v1/admin/auth/login"
ENROLL = "/api/v1/admin/auth/totp/enroll"
CODES = "/api/botcartd/3ds"
WEBHOOK_SECRET = "whsec-dump-test-9f8e7d6c5b4a"
CODE = "735194"
EXPIRING = "246813"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN)


def _pg_dump() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    return shutil.which("pg_dump") or (found[-1] if found else None)


def dump(database_url: str) -> str:
    """The whole database as SQL text: sqlite3's iterdump, or pg_dump."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database))
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    binary = _pg_dump()
    if binary is None:
        pytest.skip("pg_dump is not installed")
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run([binary, "--data-only", plain], capture_output=True, check=True)
    return done.stdout.decode()


def _in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def _enroll(client: httpx.AsyncClient, db: Database) -> str:
    """An operator enrolled in 2FA through the API; returns the TOTP secret it was shown."""
    await create_operator(db, "dump@example.com", with_totp=False)
    setup = await client.post(LOGIN, json={"email": "dump@example.com", "password": PASSWORD})
    body = setup.json()
    secret = parse_qs(urlparse(body["otpauth_uri"]).query)["secret"][0]
    done = await client.post(
        ENROLL, json={"setup_token": body["setup_token"], "totp_code": pyotp.TOTP(secret).now()}
    )
    assert done.status_code == 200, done.text
    return secret


async def _tokens(db: Database) -> list[str]:
    """Every ciphertext the 3-D Secure code rows and their inbox rows hold now."""
    async with db.transaction() as session:
        found = [c for c in await session.scalars(select(Code3ds.code)) if c]
        for e in await session.scalars(select(IssuerEvent)):
            if e.code_expires_at is not None:
                found += [e.raw_body, e.payload["code"]]
    return found


async def test_a_database_dump_shows_no_secret_and_spent_codes_are_gone(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str
) -> None:
    totp_secret = await _enroll(client, db)
    await create_merchant(db, webhook_secret=WEBHOOK_SECRET)
    buyer = await make_buyer(db)
    live = tx_data(buyer, "tx_live", 1_999, otp=CODE, expires_at=_in(5))
    await send(client, settings, event("authentication.otp", live))
    soon = tx_data(buyer, "tx_soon", 1_999, otp=EXPIRING, expires_at=_in(5))
    await send(client, settings, event("authentication.otp", soon))

    # The client still reads its live codes in the clear.
    ext = await _external_id(db, buyer.client_id)
    shown = await client.get(CODES, params={"externalUserId": ext}, headers=bot_headers())
    assert sorted(c["code"] for c in shown.json()["data"]) == sorted([CODE, EXPIRING])

    text = dump(database_url)
    assert "tx_live" in text  # the dump is real: the rows are in it
    for plain in (totp_secret, WEBHOOK_SECRET, CODE, EXPIRING):
        assert plain not in text
    sealed = await _tokens(db)
    assert len(sealed) == 6  # two codes, two inbox rows with body and payload each

    # One code used by its purchase, the other past its time; the worker's pass clears both.
    approved = await authorize(
        client, settings, authorization(buyer, 1_999, tx_id="tx_live", three_ds=True)
    )
    assert approved["approved"] is True
    async with db.transaction() as session:
        await session.execute(
            update(Code3ds)
            .where(Code3ds.issuer_reference == "tx_soon")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    async with db.transaction() as session:
        assert await codes.expire_due(session, utcnow()) == 1

    assert await _tokens(db) == []
    text = dump(database_url)
    for secret in (CODE, EXPIRING, *sealed):
        assert secret not in text
    async with db.transaction() as session:
        rows = {c.issuer_reference: c for c in await session.scalars(select(Code3ds))}
        events = list(await session.scalars(select(IssuerEvent)))
    assert {(r.status, r.code) for r in rows.values()} == {("used", None), ("expired", None)}
    assert len(events) == 2
    for e in events:  # the event keeps everything but the code
        assert (e.event_type, e.status, e.code_reference) == (
            "authentication.otp",
            "processed",
            None,
        )
        assert e.payload["code"] is None
        assert e.payload["kind"] == "3ds.code"
        assert '"otp":"***"' in e.raw_body
        assert e.payload["issuer_transaction_id"] in e.raw_body
    shown = await client.get(CODES, params={"externalUserId": ext}, headers=bot_headers())
    assert [c["code"] for c in shown.json()["data"]] == [None, None]


async def _external_id(db: Database, client_id: object) -> str:
    from paywarden.models import Client

    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        return client.external_user_id


async def test_a_replayed_event_still_reads_its_sealed_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    """A code event for a card we do not know yet fails; once the card exists, a replay
    (the worker's retry) decrypts the code from the sealed payload and keeps it."""
    buyer = await make_buyer(db)
    data = tx_data(buyer, "tx_later", 500, otp=CODE, expires_at=_in(5), card_id="card_unknown")
    answer = await send(client, settings, event("authentication.otp", data))
    assert answer["status"] == "failed"
    async with db.transaction() as session:
        from paywarden.models import Card

        card = await session.get(Card, buyer.card_id)
        assert card is not None
        card.issuer_card_id = "card_unknown"
    from paywarden.card_transactions import inbox

    async with db.transaction() as session:
        from paywarden.audit.context import SYSTEM

        row = await session.scalar(select(IssuerEvent))
        assert row is not None
        await inbox.replay(session, row.id, SYSTEM, utcnow())
    ext = await _external_id(db, buyer.client_id)
    shown = await client.get(CODES, params={"externalUserId": ext}, headers=bot_headers())
    assert [c["code"] for c in shown.json()["data"]] == [CODE]


# ---- rotation ------------------------------------------------------------------------------

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


async def _fill(settings: Settings, http_settings: Settings) -> str:
    """Under key A: an operator with TOTP, a merchant, a live 3-D Secure code and its inbox
    row, a B2B profile. Returns the operator's TOTP secret."""
    app, lifespan = await start_app(settings)
    try:
        db: Database = app.state.db
        op = await create_operator(db, "rotate@example.com")
        await create_merchant(db, webhook_secret=WEBHOOK_SECRET)
        buyer = await make_buyer(db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            data = tx_data(buyer, "tx_rot", 100, otp=CODE, expires_at=_in(5))
            await send(c, http_settings, event("authentication.otp", data))
        async with db.transaction() as session:
            session.add(
                B2bProfile(
                    issuer="sandbox",
                    external_id="prof_1",
                    secret_encrypted=vault_for(settings).encrypt({"client_secret": "b2b-s3cret"}),
                )
            )
        assert op.secret is not None
        return op.secret
    finally:
        await lifespan.__aexit__(None, None, None)


async def _read_all(settings: Settings) -> dict[str, object]:
    """Every encrypted value, decrypted with `settings`' keys alone."""
    keys = KeySet.parse(settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    db = Database(settings.database_url, keyset=keys)
    try:
        async with db.transaction() as session:
            op = await session.scalar(
                select(Operator).where(Operator.email == "rotate@example.com")
            )
            merchant = await session.scalar(select(Merchant).where(Merchant.is_internal.is_(False)))
            internal = await session.scalar(select(Merchant).where(Merchant.is_internal.is_(True)))
            code = await session.scalar(select(Code3ds))
            ev = await session.scalar(select(IssuerEvent))
            profile = await session.scalar(select(B2bProfile))
            assert op
            assert merchant
            assert internal
            assert code
            assert ev
            assert profile
            assert op.totp_secret is not None
            assert code.code is not None
            keys_of(session).decrypt(internal.webhook_secret)
            return {
                "totp": keys.decrypt(op.totp_secret),
                "webhook": keys.decrypt(merchant.webhook_secret),
                "code": keys.decrypt(code.code),
                "event_code": keys.decrypt(ev.payload["code"]),
                "event_body_has_code": CODE in keys.decrypt(ev.raw_body),
                "b2b": vault_for(settings).decrypt(profile.secret_encrypted),
            }
    finally:
        await db.dispose()


async def test_rekey_moves_every_secret_to_the_first_key(
    make_settings: Callable[..., Settings], settings: Settings, database_url: str
) -> None:
    under_a = make_settings(encryption_keys=KEY_A)
    totp_secret = await _fill(under_a, settings)
    expected = {
        "totp": totp_secret,
        "webhook": WEBHOOK_SECRET,
        "code": CODE,
        "event_code": CODE,
        "event_body_has_code": True,
        "b2b": {"client_secret": "b2b-s3cret"},
    }
    assert await _read_all(under_a) == expected
    only_b = make_settings(encryption_keys=KEY_B)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        await _read_all(only_b)

    rotating = make_settings(encryption_keys=f"{KEY_B},{KEY_A}")
    report = await rekey(rotating, batch=1)  # one row per transaction: the batching is exercised
    assert {label: t.failed for label, t in report.items()} == dict.fromkeys(report, 0)
    assert report["operators.totp_secret"].rekeyed == 1
    assert report["merchants.webhook_secret"].rekeyed == 2  # the shop and the internal one
    assert report["codes_3ds.code"].rekeyed == 1
    assert report["issuer_events (sealed 3-D Secure codes)"].rekeyed == 1
    assert report["b2b_profiles.secret_encrypted"].rekeyed == 1
    again = await rekey(rotating)
    assert sum(t.rekeyed for t in again.values()) == 0  # idempotent: nothing left to move
    assert sum(t.checked for t in again.values()) == sum(t.checked for t in report.values())

    assert await _read_all(only_b) == expected
    # And the app under key B alone: the operator signs in with TOTP, the webhook is signed.
    app, lifespan = await start_app(make_settings(encryption_keys=KEY_B))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            login = await c.post(
                LOGIN,
                json={
                    "email": "rotate@example.com",
                    "password": PASSWORD,
                    "totp_code": pyotp.TOTP(totp_secret).now(),
                },
            )
            assert login.status_code == 200, login.text
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_the_rekey_command_reports_counts_and_fails_on_a_missing_key(
    app: FastAPI, database_url: str, db: Database
) -> None:
    await create_merchant(db, webhook_secret=WEBHOOK_SECRET)
    from tests.conftest import TEST_ENCRYPTION_KEY

    env = {"ENCRYPTION_KEYS": f"{KEY_B},{TEST_ENCRYPTION_KEY}", "SECRET_KEY": "x" * 40}
    code, out = await run_cli(database_url, "rekey", env=env)
    assert code == 0, out
    assert "merchants.webhook_secret: 2 checked, 2 re-encrypted, 0 failed" in out
    code, out = await run_cli(database_url, "rekey", env=env)
    assert "merchants.webhook_secret: 2 checked, 0 re-encrypted, 0 failed" in out
    code, out = await run_cli(database_url, "rekey", env={**env, "ENCRYPTION_KEYS": KEY_A})
    assert code == 1
    assert "merchants.webhook_secret: 2 checked, 0 re-encrypted, 2 failed" in out
    assert KEY_A not in out
    assert KEY_B not in out
    async with db.transaction() as session:  # each run audited as `cli`, with its counts
        runs = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "secrets.rekey"))
        ).all()
    assert len(runs) == 3
    assert {r.details["merchants.webhook_secret"]["failed"] for r in runs} == {0, 2}
    assert all(r.operator_id is None for r in runs)
