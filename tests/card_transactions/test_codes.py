"""3-D Secure codes: kept from the issuer's webhook, shown to the client, expired, counted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from paywarden.card_transactions import codes
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client, Code3ds
from paywarden.worker import expire_3ds_codes
from tests.card_transactions.conftest import (
    Buyer,
    authorization,
    authorize,
    code_rows,
    event,
    make_buyer,
    send,
    tx_data,
)
from tests.clients.test_auth import BOT_TOKEN, bot_headers

CODES = "/api/botcartd/3ds"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN)


def _in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def _otp(
    http: httpx.AsyncClient, settings: Settings, buyer: Buyer, tx_id: str, otp: str, **more: str
) -> dict[str, object]:
    data = tx_data(
        buyer,
        tx_id,
        1_999,
        otp=otp,
        expires_at=more.pop("expires_at", _in(5)),
        transaction_amount="21.50",
        transaction_currency="USD",
        **more,
    )
    return await send(http, settings, event("authentication.otp", data))


async def _external_id(db: Database, buyer: Buyer) -> str:
    async with db.transaction() as session:
        client = await session.get(Client, buyer.client_id)
        assert client is not None
        return client.external_user_id


async def test_the_client_reads_its_codes_and_state_shows_them(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    other = await make_buyer(db)
    await _otp(client, settings, buyer, "tx_a", "111111")
    await _otp(client, settings, buyer, "tx_b", "222222")
    await _otp(client, settings, other, "tx_c", "333333")
    params = {"externalUserId": await _external_id(db, buyer)}
    response = await client.get(CODES, params=params, headers=bot_headers())
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [c["code"] for c in data] == ["222222", "111111"]  # newest first, theirs only
    first = data[0]
    assert set(first) == {"id", "code", "merchant", "amount", "currency", "status", "expires_at"}
    assert (first["merchant"], first["amount"], first["currency"], first["status"]) == (
        "Coffee Shop",
        "21.50",
        "USD",
        "pending",
    )
    assert first["expires_at"].endswith("Z")
    state = await client.get("/api/botcartd/state", params=params, headers=bot_headers())
    assert state.status_code == 200, state.text
    assert [c["code"] for c in state.json()["codes_3ds"]] == ["222222", "111111"]
    assert (await client.get(CODES)).status_code == 401


async def test_a_repeated_code_event_keeps_one_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    await _otp(client, settings, buyer, "tx_a", "111111")
    await _otp(client, settings, buyer, "tx_a", "111111")  # another event id, same purchase
    assert len(await code_rows(db, buyer.client_id)) == 1


async def test_codes_never_reach_the_log(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    buyer = await make_buyer(db)
    await _otp(client, settings, buyer, "tx_a", "987123")
    captured = capsys.readouterr()
    assert "987123" not in captured.out + captured.err + caplog.text


async def test_past_due_codes_expire(
    app: object, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    await _otp(client, settings, buyer, "tx_a", "111111")
    await _otp(client, settings, buyer, "tx_b", "222222", expires_at=_in(10))
    async with db.transaction() as session:
        await session.execute(
            update(Code3ds)
            .where(Code3ds.issuer_reference == "tx_a")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    from paywarden.context import WorkerContext

    ctx = WorkerContext(db=db, gateway=app.state.gateway)  # type: ignore[attr-defined]
    assert await expire_3ds_codes(ctx) == 1
    statuses = {c.issuer_reference: c.status for c in await code_rows(db, buyer.client_id)}
    assert statuses == {"tx_a": "expired", "tx_b": "pending"}


async def test_risk_counts(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    buyer = await make_buyer(db, funds=100_000)
    other = await make_buyer(db)
    for n in range(4):
        await _otp(client, settings, buyer, f"tx_{n}", f"00000{n}")
    await _otp(client, settings, other, "tx_other", "999999")
    # tx_0 and tx_1 used, tx_2 declined (3DS failed), tx_3 expired.
    for n in (0, 1):
        body = authorization(buyer, 1_000, tx_id=f"tx_{n}", three_ds=True)
        assert (await authorize(client, settings, body))["approved"]
    declined = tx_data(buyer, "tx_2", 1_000, response_code="1A")
    await send(client, settings, event("authorization.declined", declined))
    async with db.transaction() as session:
        await session.execute(
            update(Code3ds)
            .where(Code3ds.issuer_reference == "tx_3")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await codes.expire_due(session, utcnow())
        mine = await codes.stats(session, buyer.client_id, utcnow())
        everyone = await codes.stats(session, None, utcnow())
        later = await codes.stats(session, None, utcnow() + timedelta(days=8))
    assert (mine.requests_today, mine.requests_7d, mine.expired_7d) == (4, 4, 1)
    assert str(mine.approval_rate_7d) == "50.0"  # 2 used of 4 decided
    assert (everyone.requests_7d, str(everyone.approval_rate_7d)) == (5, "50.0")
    assert (later.requests_7d, later.approval_rate_7d) == (0, None)
