"""Idempotency-Key bound to its request, on every route that takes one: the client API's
convert and the admin top-up. The same key and body answer the first answer again, exactly;
the same key with any other body is 409 IDEMPOTENCY_KEY_REUSED and moves nothing; concurrent
twins move money once; keys are scoped to their caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import LedgerTransaction
from paywarden.wallets import service as wallets
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN, make_client, tg_headers
from tests.clients.test_client_api import create_plan, fund, set_rate
from tests.conftest import client_for
from tests.factories import create_operator, sign_in

CONVERT = "/api/botcartd/convert"
CLIENTS = "/api/v1/admin/clients"
TWINS = 8


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN)


async def _operator(app: FastAPI, email: str) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(app.state.db, email, role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


@pytest.fixture
async def money(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _operator(app, "money@example.com"):
        yield c


@pytest.fixture
async def other_money(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _operator(app, "other-money@example.com"):
        yield c


async def _balances(db: Database, client_id: uuid.UUID) -> dict[str, tuple[int, int]]:
    async with db.transaction() as session:
        found = await wallets.balances(session, client_id)
        assert (await wallets.check(session)).ok
    return {c: (b.balance, b.reserved) for c, b in found.items()}


async def _count(db: Database, kind: str) -> int:
    async with db.transaction() as session:
        query = select(func.count()).select_from(LedgerTransaction)
        return int(await session.scalar(query.where(LedgerTransaction.kind == kind)) or 0)


def _figures(response: httpx.Response) -> dict[str, Any]:
    """The answer without the flag that tells a replay."""
    return {k: v for k, v in response.json().items() if k != "replayed"}


# ---- convert --------------------------------------------------------------------------------


async def _convert_setup(db: Database, n: int) -> uuid.UUID:
    made = await make_client(db, f"tg_{n}")
    await fund(db, made.id, "EUR", 10_000)
    await fund(db, made.id, "USD", 10_000)
    return made.id


async def test_convert_replays_the_first_answer_exactly(
    client: httpx.AsyncClient, db: Database
) -> None:
    await create_plan(db, "Basic", is_default=True, fx_fee_bps=100)
    await set_rate(db, 1_085_000)
    client_id = await _convert_setup(db, 7001)
    headers = {**tg_headers(7001), "Idempotency-Key": "conv-1"}
    body = {"from": "EUR", "to": "USD", "amount": "10.00"}

    first = await client.post(CONVERT, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    after_first = await _balances(db, client_id)
    # The rate changes; a retry still answers what was done then.
    await set_rate(db, 1_200_000)
    again = await client.post(CONVERT, json=body, headers=headers)
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _balances(db, client_id) == after_first
    assert await _count(db, "fx") == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": "10.01"},
        {"amount": "1.00"},
        {"from": "USD", "to": "EUR"},  # the other direction
        {"from": "USD", "to": "EUR", "amount": "10.85"},
    ],
)
async def test_convert_same_key_other_body_is_409_and_moves_nothing(
    client: httpx.AsyncClient, db: Database, changed: dict[str, str]
) -> None:
    await set_rate(db, 1_085_000)
    client_id = await _convert_setup(db, 7002)
    headers = {**tg_headers(7002), "Idempotency-Key": "conv-2"}
    body = {"from": "EUR", "to": "USD", "amount": "10.00"}
    first = await client.post(CONVERT, json=body, headers=headers)
    assert first.status_code == 200, first.text
    before = await _balances(db, client_id)

    reused = await client.post(CONVERT, json={**body, **changed}, headers=headers)
    assert reused.status_code == 409, reused.text
    assert reused.json() == {
        "error": "This idempotency key was used for a different ledger transaction",
        "code": "IDEMPOTENCY_KEY_REUSED",
    }
    assert await _balances(db, client_id) == before
    assert await _count(db, "fx") == 1
    # The first request still replays.
    assert (await client.post(CONVERT, json=body, headers=headers)).json() == first.json()


async def test_convert_keys_are_per_client(client: httpx.AsyncClient, db: Database) -> None:
    await set_rate(db, 1_000_000)
    one, two = await _convert_setup(db, 7003), await _convert_setup(db, 7004)
    body = {"from": "EUR", "to": "USD", "amount": "1.00"}
    a = await client.post(CONVERT, json=body, headers={**tg_headers(7003), "Idempotency-Key": "k"})
    b = await client.post(
        CONVERT,
        json={**body, "amount": "2.00"},
        headers={**tg_headers(7004), "Idempotency-Key": "k"},
    )
    assert (a.status_code, b.status_code) == (200, 200)
    assert a.json()["transaction_id"] != b.json()["transaction_id"]
    assert (await _balances(db, one))["EUR"] == (9_900, 0)
    assert (await _balances(db, two))["EUR"] == (9_800, 0)


async def test_concurrent_converts_with_one_key_move_money_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    await set_rate(db, 1_000_000)
    client_id = await _convert_setup(db, 7005)
    headers = {**tg_headers(7005), "Idempotency-Key": "conv-race"}
    body = {"from": "EUR", "to": "USD", "amount": "25.00"}
    answers = await asyncio.gather(
        *(client.post(CONVERT, json=body, headers=headers) for _ in range(TWINS))
    )
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1  # one answer, replayed to every twin
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == TWINS - 1
    assert await _balances(db, client_id) == {"EUR": (7_500, 0), "USD": (12_500, 0)}
    assert await _count(db, "fx") == 1


# ---- admin top-up ---------------------------------------------------------------------------


async def test_topup_replays_the_first_answer_exactly(
    money: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_7101")
    url = f"{CLIENTS}/{c.id}/topup"
    body = {"currency": "EUR", "amount": "12.50", "note": "goodwill"}
    first = await money.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == "12.50"
    # The wallet moves in between; a retry still answers what the first call answered.
    more = await money.post(url, json={**body, "amount": "5.00"})
    assert more.json()["balance"] == "17.50"

    again = await money.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["replayed"], first.json()["replayed"]) == (True, False)
    assert _figures(again) == _figures(first)
    assert (await _balances(db, c.id))["EUR"] == (1_750, 0)
    assert await _count(db, "adjustment") == 2


@pytest.mark.parametrize(
    "changed",
    [{"amount": "12.51"}, {"currency": "USD"}, {"note": "goodwill again"}, {"amount": "1250"}],
)
async def test_topup_same_key_other_body_is_409_and_moves_nothing(
    money: httpx.AsyncClient, db: Database, changed: dict[str, str]
) -> None:
    c = await make_client(db, "tg_7102")
    url = f"{CLIENTS}/{c.id}/topup"
    body = {"currency": "EUR", "amount": "12.50", "note": "goodwill"}
    first = await money.post(url, json=body, headers={"Idempotency-Key": "t-2"})
    assert first.status_code == 201, first.text
    before = await _balances(db, c.id)

    reused = await money.post(url, json={**body, **changed}, headers={"Idempotency-Key": "t-2"})
    assert reused.status_code == 409, reused.text
    assert reused.json() == {
        "error": "This Idempotency-Key was used for a different top-up",
        "code": "IDEMPOTENCY_KEY_REUSED",
    }
    assert await _balances(db, c.id) == before
    assert await _count(db, "adjustment") == 1


async def test_topup_key_of_another_operator_is_409_and_per_client(
    money: httpx.AsyncClient, other_money: httpx.AsyncClient, db: Database
) -> None:
    c, d = await make_client(db, "tg_7103"), await make_client(db, "tg_7104")
    body = {"currency": "USD", "amount": "3.00", "note": "refund"}
    first = await money.post(f"{CLIENTS}/{c.id}/topup", json=body, headers={"Idempotency-Key": "x"})
    assert first.status_code == 201, first.text
    # Another operator's identical request with the same key is not a retry of the first.
    theirs = await other_money.post(
        f"{CLIENTS}/{c.id}/topup", json=body, headers={"Idempotency-Key": "x"}
    )
    assert (theirs.status_code, theirs.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    # The same key on another client's wallet is that client's own top-up.
    other = await money.post(f"{CLIENTS}/{d.id}/topup", json=body, headers={"Idempotency-Key": "x"})
    assert other.status_code == 201
    assert other.json()["transaction_id"] != first.json()["transaction_id"]
    assert (await _balances(db, c.id))["USD"] == (300, 0)
    assert (await _balances(db, d.id))["USD"] == (300, 0)


async def test_concurrent_topups_with_one_key_credit_once(
    money: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_7105")
    url = f"{CLIENTS}/{c.id}/topup"
    body = {"currency": "EUR", "amount": "40.00", "note": "race"}
    answers = await asyncio.gather(
        *(money.post(url, json=body, headers={"Idempotency-Key": "t-race"}) for _ in range(TWINS))
    )
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    assert len({str(_figures(r)) for r in answers}) == 1
    assert sum(r.json()["replayed"] for r in answers) == TWINS - 1
    assert (await _balances(db, c.id))["EUR"] == (4_000, 0)
    assert await _count(db, "adjustment") == 1
