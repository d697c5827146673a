"""An EUR-priced fee that only the USD wallet could pay, with no EUR/USD rate set, is refused as
409 FX_RATE_NOT_SET (the rate is missing, not the money); background charges leave it unpaid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Client, Subscription
from paywarden.subscriptions import service as subs
from tests.clients.test_auth import BOT_TOKEN, bot_headers
from tests.subscriptions.conftest import balances, load, make_plan, new_client, set_rate

SELECT = "/api/botcartd/plan/select"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN)


async def _external_id(db: Database, client_id: object) -> str:
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        return client.external_user_id


async def test_selecting_a_plan_payable_only_in_usd_without_a_rate_is_409(
    client: httpx.AsyncClient, db: Database
) -> None:
    pro = await make_plan(db, monthly_fee=999)
    holder = await new_client(db, eur=100, usd=50_000)
    body = {"plan_id": str(pro.id), "external_user_id": await _external_id(db, holder)}

    refused = await client.post(SELECT, json=body, headers=bot_headers())
    assert (refused.status_code, refused.json()) == (
        409,
        {"error": "No EUR/USD rate has been set yet", "code": "FX_RATE_NOT_SET"},
    )
    assert await balances(db, holder) == {"EUR": 100, "USD": 50_000}

    await set_rate(db, 1_085_000)  # 9.99 EUR = 10.84 USD, rounded up
    paid = await client.post(SELECT, json=body, headers=bot_headers())
    assert paid.status_code == 200, paid.text
    assert await balances(db, holder) == {"EUR": 100, "USD": 50_000 - 1_084}


async def test_with_no_usd_either_it_stays_insufficient_funds(
    client: httpx.AsyncClient, db: Database
) -> None:
    pro = await make_plan(db, monthly_fee=999)
    holder = await new_client(db, eur=100)
    body = {"plan_id": str(pro.id), "external_user_id": await _external_id(db, holder)}
    refused = await client.post(SELECT, json=body, headers=bot_headers())
    assert (refused.status_code, refused.json()["code"]) == (402, "INSUFFICIENT_FUNDS")


async def test_background_charges_leave_it_unpaid_instead_of_failing(db: Database) -> None:
    await make_plan(db, monthly_fee=999, is_default=True)
    holder = await new_client(db, usd=50_000)
    async with db.transaction() as session:  # the implicit first charge (ensure): no error
        sub = await subs.ensure(session, await load(session, holder))
        assert sub is not None
        assert sub.status == "pending"
    # The renewal job marks it past_due and carries on (one pass renews many clients).
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.client_id == holder)
            .values(status="past_due", updated_at=utcnow() - timedelta(days=1))
        )
    async with db.transaction() as session:
        assert await subs.renew_due(session, utcnow()) == 0
    async with db.transaction() as session:
        row = await session.get(Subscription, sub.id)
        assert row is not None
        assert row.status == "past_due"
        assert row.updated_at > utcnow() - timedelta(minutes=1)  # tried now, retried later
    assert await balances(db, holder) == {"EUR": 0, "USD": 50_000}


async def test_an_operator_assigning_such_a_plan_is_told_the_rate_is_missing(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    pro = await make_plan(db, monthly_fee=999)
    holder = await new_client(db, usd=50_000)
    refused = await admin_client.post(
        f"/api/v1/admin/clients/{holder}/plan", json={"plan_id": str(pro.id)}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "FX_RATE_NOT_SET")
    async with db.transaction() as session:
        assert (await load(session, holder)).plan_id != pro.id  # nothing changed
    await set_rate(db, 1_085_000)
    ok = await admin_client.post(
        f"/api/v1/admin/clients/{holder}/plan", json={"plan_id": str(pro.id)}
    )
    assert ok.status_code == 200, ok.text
    assert await balances(db, holder) == {"EUR": 0, "USD": 50_000 - 1_084}
