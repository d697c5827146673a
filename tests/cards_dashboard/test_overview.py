"""Issue 14 — the overview and the daily series, figure by figure, after a day of a client's
business driven over real HTTP: USDT top-ups on the devnet, a plan, two cards at the sandbox
issuer, purchases settled, pending, refunded and in another currency, declines of each kind and
3-D Secure codes used and failed. Every figure is asserted exactly."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update

from paywarden.chain import tasks as chain_tasks
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import Card, CardExposure, CardTransaction
from paywarden.plans.amounts import format_cents
from tests.card_transaction_review.test_card_transactions import create_card
from tests.card_transactions.conftest import tx_row
from tests.clients.test_auth import BOT_TOKEN, STATE, TELEGRAM_TOKEN, make_client, tg_headers
from tests.clients.test_client_api import create_plan, fund
from tests.factories import create_operator, sign_in
from tests.issuer.stack import IssuerStack, running_stack
from tests.subscriptions.conftest import set_rate
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures

USER = 4242
OVERVIEW = "/api/v1/admin/analytics/overview"
DAILY = "/api/v1/admin/analytics/daily"


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


async def state(stack: IssuerStack) -> dict[str, Any]:
    response = await stack.http.get(STATE, headers=tg_headers(USER))
    assert response.status_code == 200, response.text
    return response.json()


async def client_post(stack: IssuerStack, path: str, body: dict[str, Any] | None = None) -> Any:
    response = await stack.http.post(path, json=body, headers=tg_headers(USER))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def top_up(stack: IssuerStack, devnet: Devnet, usdt: int) -> None:  # noqa: F811
    created = await client_post(stack, "/api/botcartd/topups", {"amount": str(usdt)})
    paid = await devnet.control.post(
        "/pay", json={"to": created["address"], "amount": usdt * 1_000_000}
    )
    assert paid.status_code == 200, paid.text
    await devnet.mine(4)
    gateway = stack.app.state.gateway
    await chain_tasks.scan_pass(stack.db, devnet.client, gateway.scanner, gateway)


async def test_every_figure_of_a_day_of_business(
    make_settings: Callable[..., Settings],
    devnet: Devnet,  # noqa: F811
) -> None:
    async with running_stack(
        make_settings,
        trongrid_url=devnet.url,
        scan_start_block=0,
        bot_api_token=BOT_TOKEN,
        telegram_bot_token=TELEGRAM_TOKEN,
    ) as stack:
        await set_rate(stack.db, 1_100_000)  # 1 EUR = 1.10 USD
        plan = await create_plan(
            stack.db,
            "Scenario",
            monthly_fee=500,
            topup_fee_bps=100,
            fx_fee_bps=200,
            card_issue_fee=300,
            cards_included=1,
        )
        # Top-ups: 100 USDT before the plan (no fee), 50 after (1 %: 0.50 USD fee).
        await top_up(stack, devnet, 100)
        await client_post(
            stack, "/api/botcartd/convert", {"from": "USD", "to": "EUR", "amount": "88.00"}
        )
        await client_post(stack, "/api/botcartd/plan/select", {"plan_id": str(plan.id)})  # 5.00 EUR
        await top_up(stack, devnet, 50)
        assert (await state(stack))["wallets"]["USD"]["balance"] == "61.50"  # 100 - 88 + 49.50

        # Cards: EUR (included), USD (3.00 EUR issue fee), the USD one closed.
        eur = await client_post(
            stack, "/api/botcartd/cards", {"currency": "EUR", "monthly_limit": "500.00"}
        )
        usd = await client_post(
            stack, "/api/botcartd/cards", {"currency": "USD", "monthly_limit": "200.00"}
        )
        await client_post(stack, f"/api/botcartd/cards/{usd['id']}/close")
        assert (await state(stack))["wallets"]["EUR"]["balance"] == "72.00"  # 80 - 5 - 3

        card = eur["issuer_card_id"]
        settled = await stack.purchase(card, "30.00")
        await stack.simulate("settle", transaction_id=settled["transaction_id"])
        abroad = await stack.purchase(card, "11.00", currency="USD")
        await stack.simulate("settle", transaction_id=abroad["transaction_id"])
        row = await tx_row(stack.db, abroad["transaction_id"])
        billed, fx_fee = row.amount - row.fx_fee, row.fx_fee
        assert fx_fee == -(-billed * 200 // 10_000) > 0
        pending = await stack.purchase(card, "10.00")
        assert pending["approved"] is True
        refunded = await stack.purchase(card, "5.00")
        await stack.simulate("settle", transaction_id=refunded["transaction_id"])
        await stack.simulate("refund", transaction_id=refunded["transaction_id"], amount="2.00")
        left = cents((await state(stack))["wallets"]["EUR"]["available"])
        broke = await stack.purchase(card, format_cents(left + 1))
        assert broke["decline_reason"] == "insufficient_funds"
        await client_post(stack, f"/api/botcartd/cards/{eur['id']}/freeze")
        cold = await stack.purchase(card, "1.00")
        assert cold["decline_reason"] == "card_inactive"
        await client_post(stack, f"/api/botcartd/cards/{eur['id']}/unfreeze")
        secure = await stack.purchase(card, "2.00", three_ds=True)
        assert secure["approved"] is True
        failed = await stack.purchase(card, "1.00", three_ds="fail")
        assert failed["approved"] is False

        # The first purchase happened yesterday (the rollup follows a row's move).
        first = await tx_row(stack.db, settled["transaction_id"])
        async with stack.db.transaction() as session:
            await session.execute(
                update(CardTransaction)
                .where(CardTransaction.id == first.id)
                .values(created_at=first.created_at - timedelta(days=1))
            )
            found = await session.get(Card, uuid.UUID(eur["id"]))
            assert found is not None
            spent = found.spent_this_month

        op = await create_operator(stack.db, "analyst@example.com")
        await sign_in(stack.http, op)
        response = await stack.http.get(OVERVIEW, params={"period": "today"})
        assert response.status_code == 200, response.text
        o = response.json()
        wallet = (await state(stack))["wallets"]["EUR"]

        spend_today = billed + fx_fee + 1000 + 300 + 200
        spend_3d = spend_today + 3000
        assert o["period"] == "today"
        assert o["timezone"] == "UTC"
        assert o["cards"].pop("available_as_of") == o["generated_at"]  # computed now
        assert o["cards"] == {
            "active": {"EUR": 1, "USD": 0, "total": 1},
            "assigned_limit": {"EUR": "500.00", "USD": "0.00"},
            "available_to_spend": {
                "EUR": format_cents(min(50_000 - spent, cents(wallet["available"]))),
                "USD": "0.00",
            },
        }
        assert o["lifecycle"] == {"created": 2, "closed": 1}
        assert o["topups"] == {
            "today": {"EUR": "0.00", "USD": "149.50"},
            "yesterday": {"EUR": "0.00", "USD": "0.00"},
            "last_3_days": {"EUR": "0.00", "USD": "149.50"},
            "count_today": 2,
            "avg_size_3d": {"EUR": None, "USD": "74.75"},
        }
        assert o["spend"] == {
            "today": {"EUR": format_cents(spend_today), "USD": "0.00"},
            "yesterday": {"EUR": "30.00", "USD": "0.00"},
            "last_3_days": {"EUR": format_cents(spend_3d), "USD": "0.00"},
            "count_today": 4,
            "avg_size_3d": {"EUR": format_cents((2 * spend_3d + 5) // 10), "USD": None},
        }
        assert o["net_flow"] == {
            "today": {"EUR": format_cents(-spend_today), "USD": "149.50"},
            "last_3_days": {"EUR": format_cents(-spend_3d), "USD": "149.50"},
        }
        fees_today = {"EUR": format_cents(500 + 300 + fx_fee), "USD": "0.50"}
        assert o["fees"] == {
            "today": fees_today,
            "yesterday": {"EUR": "0.00", "USD": "0.00"},
            "last_3_days": fees_today,
            "mtd": fees_today,
            "breakdown": {
                "topup": {"EUR": "0.00", "USD": "0.50"},
                "fx": {"EUR": format_cents(fx_fee), "USD": "0.00"},
                "card": {"EUR": "8.00", "USD": "0.00"},
            },
        }
        assert o["quality"] == {
            "approval_rate_3d": "62.50",  # 5 approved of 8 decided
            "decline_rate_3d": "37.50",
            "pending_volume": {"EUR": "12.00", "USD": "0.00"},  # 10.00 and the 3-D Secure 2.00
            "pending_count": 2,
            "top_decline_reasons": {
                "insufficient_funds": 1,
                "do_not_honor": 0,
                "3ds": 1,
                "other": 1,  # card_inactive
            },
        }
        assert o["risk_3ds"] == {"requests_today": 2, "approval_rate_3d": "50.00", "expired_3d": 0}
        health = o["health"]
        assert health["provider_status"] == "ok"
        assert health["error_rate_1h"] == "0.00"
        assert health["failed_webhooks_24h"] == 0
        assert Decimal(health["webhook_lag_p95_s"]) >= 0
        balances = stack.sandbox.balances
        assert {c: b["amount"] for c, b in o["issuer"]["balances"].items()} == {
            c: format_cents(balances[c]) for c in ("EUR", "USD")
        }
        assert o["coverage"]["ledger"] is True
        assert o["coverage"]["issuer_events"] is True

        # The period sets the lifecycle's and the breakdown's window only.
        month = (await stack.http.get(OVERVIEW, params={"period": "30d"})).json()
        assert month["lifecycle"] == o["lifecycle"]
        assert month["spend"] == o["spend"]

        daily = await stack.http.get(DAILY, params={"days": 3})
        assert daily.status_code == 200, daily.text
        days = daily.json()
        today = utcnow().date()
        assert [d["date"] for d in days] == [
            (today - timedelta(days=n)).isoformat() for n in (2, 1, 0)
        ]
        assert days[0]["spend"] == {"EUR": "0.00", "USD": "0.00"}
        assert days[0]["approvals"] == 0
        assert days[1]["spend"] == {"EUR": "30.00", "USD": "0.00"}
        assert (days[1]["approvals"], days[1]["declines"]) == (1, 0)
        assert days[2] == {
            "date": today.isoformat(),
            "topups": {"EUR": "0.00", "USD": "149.50"},
            "spend": {"EUR": format_cents(spend_today), "USD": "0.00"},
            "fees": fees_today,
            "approvals": 4,
            "declines": 3,
            "declines_by_reason": {
                "insufficient_funds": 1,
                "do_not_honor": 0,
                "3ds": 1,
                "other": 1,
            },
            "threeds_requests": 2,
            "cards_created": 2,
        }


async def test_bad_queries_are_refused(admin_client: httpx.AsyncClient) -> None:
    for path, params in (
        (OVERVIEW, {"period": "week"}),
        (DAILY, {"days": 0}),
        (DAILY, {"days": 91}),
        (DAILY, {"days": "x"}),
    ):
        response = await admin_client.get(path, params=params)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_QUERY"


async def test_an_empty_business_reads_zero_and_says_coverage_is_partial(
    admin_client: httpx.AsyncClient,
) -> None:
    response = await admin_client.get(OVERVIEW)
    assert response.status_code == 200, response.text
    o = response.json()
    assert o["period"] == "today"
    assert o["quality"]["approval_rate_3d"] is None
    assert o["spend"]["avg_size_3d"] == {"EUR": None, "USD": None}
    assert o["coverage"]["ledger"] is False
    assert o["coverage"]["issuer_events"] is False
    assert o["coverage"]["note"].startswith("Partial")
    days = (await admin_client.get(DAILY)).json()
    assert len(days) == 30
    assert all(d["approvals"] == 0 for d in days)


async def test_the_overview_needs_an_operator(client: httpx.AsyncClient) -> None:
    for path in (OVERVIEW, DAILY):
        assert (await client.get(path)).status_code == 401


async def test_available_to_spend_is_shared_for_a_minute_then_recomputed(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    ann = await make_client(db, "tg_777")
    await create_card(db, ann)  # EUR, limit 1,000.00, nothing spent
    await fund(db, ann.id, "EUR", 25_000)

    async def figure() -> tuple[str, str]:
        response = await admin_client.get(OVERVIEW)
        assert response.status_code == 200, response.text
        cards = response.json()["cards"]
        return cards["available_to_spend"]["EUR"], cards["available_as_of"]

    first, as_of = await figure()
    assert first == "250.00"  # the wallet is the smaller
    await fund(db, ann.id, "EUR", 100_000)
    assert await figure() == (first, as_of)  # shared, less than a minute old
    async with db.transaction() as session:
        await session.execute(
            update(CardExposure).values(computed_at=utcnow() - timedelta(seconds=61))
        )
    again, later = await figure()
    assert again == "1000.00"  # now the card's free limit is the smaller
    assert later > as_of
