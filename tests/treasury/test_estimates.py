"""`GET/PUT /api/v1/admin/analytics/estimates`: saved as history, audited with the old and new
figures, a super admin's to change, and a bad value changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from paywarden.models import AuditEntry, TreasuryEstimate
from tests.conftest import client_for
from tests.issuer.stack import IssuerStack
from tests.treasury.conftest import down_adapter, signed_in

URL = "/api/v1/admin/analytics/estimates"
ZEROS = {"EUR": "0.00", "USD": "0.00"}


@pytest.fixture
async def boss(issuer_stack: IssuerStack) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(issuer_stack.app) as client:
        await signed_in(issuer_stack.db, client, "boss@example.com", "super_admin")
        yield client


@pytest.fixture
async def ops(issuer_stack: IssuerStack) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(issuer_stack.app) as client:
        await signed_in(issuer_stack.db, client, "ops@example.com", "operator")
        yield client


async def counts(stack: IssuerStack) -> tuple[int, int]:
    async with stack.db.transaction() as db:
        saves = await db.scalar(select(func.count()).select_from(TreasuryEstimate))
        audits = await db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "analytics.estimates.update")
        )
    return int(saves or 0), int(audits or 0)


async def test_before_any_save(ops: httpx.AsyncClient) -> None:
    response = await ops.get(URL)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "pending_settlements": ZEROS,
        "provider_holds": ZEROS,
        "runway_days_override": None,
        "updated_at": None,
        "updated_by": None,
        "runway_days": None,
        "runway_computed_days": None,
        "runway_source": None,
        "runway_reason": "no outflow in the last 7 days",  # the sandbox has a balance
        "runway_by_currency": {"EUR": None, "USD": None},
    }


async def test_a_save_is_kept_as_history_and_audited(
    issuer_stack: IssuerStack, boss: httpx.AsyncClient, ops: httpx.AsyncClient
) -> None:
    first = await boss.put(
        URL,
        json={
            "pending_settlements": {"EUR": "120.00", "USD": "0.00"},
            "provider_holds": {"EUR": "50.5", "USD": "7"},
            "runway_days_override": 12,
        },
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["pending_settlements"] == {"EUR": "120.00", "USD": "0.00"}
    assert body["provider_holds"] == {"EUR": "50.50", "USD": "7.00"}
    assert body["runway_days_override"] == 12
    assert body["runway_days"] == "12.00"
    assert body["runway_source"] == "override"
    assert body["updated_by"] == "boss@example.com"
    assert body["updated_at"] is not None

    second = await boss.put(
        URL, json={"providerHolds": {"USD": "1.00"}, "runway_days_override": None}
    )
    assert second.status_code == 200, second.text
    assert second.json()["provider_holds"] == {"EUR": "50.50", "USD": "1.00"}  # EUR kept
    assert second.json()["pending_settlements"]["EUR"] == "120.00"
    assert second.json()["runway_days_override"] is None

    got = (await ops.get(URL)).json()
    assert got == second.json()
    history = (await ops.get(URL + "/history")).json()["data"]
    assert [h["provider_holds"]["USD"] for h in history] == ["1.00", "7.00"]  # newest first
    assert await counts(issuer_stack) == (2, 2)

    async with issuer_stack.db.transaction() as db:
        entries = list(
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "analytics.estimates.update")
                .order_by(AuditEntry.created_at)
            )
        )
    assert entries[0].actor == "boss@example.com"
    assert entries[0].details == {
        "old": {
            "pending_settlements": ZEROS,
            "provider_holds": ZEROS,
            "runway_days_override": None,
        },
        "new": {
            "pending_settlements": {"EUR": "120.00", "USD": "0.00"},
            "provider_holds": {"EUR": "50.50", "USD": "7.00"},
            "runway_days_override": 12,
        },
    }
    assert entries[1].details["old"]["runway_days_override"] == 12
    assert entries[1].details["new"]["provider_holds"] == {"EUR": "50.50", "USD": "1.00"}


async def test_an_operator_may_read_but_not_save(
    issuer_stack: IssuerStack, ops: httpx.AsyncClient
) -> None:
    response = await ops.put(URL, json={"runway_days_override": 3})
    assert response.status_code == 403
    assert await counts(issuer_stack) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"pending_settlements": {"EUR": "-1.00"}},
        {"pending_settlements": {"EUR": "1.234"}},
        {"pending_settlements": {"EUR": "1e3"}},
        {"pending_settlements": {"EUR": "١٢"}},  # Arabic-Indic digits
        {"pending_settlements": {"EUR": " 12.00"}},
        {"pending_settlements": {"EUR": 12}},  # a number, not a string
        {"pending_settlements": {"EUR": None}},
        {"pending_settlements": {"GBP": "1.00"}},
        {"pending_settlements": "120.00"},
        {"provider_holds": {"USD": "9999999999999.00"}},  # past 12 whole digits
        {"runway_days_override": -1},
        {"runway_days_override": "12"},
        {"runway_days_override": 1.5},
        {"runway_days_override": True},
        {"runway_days_override": 3651},
        # A good figure beside a bad one is not saved either.
        {"pending_settlements": {"EUR": "5.00"}, "provider_holds": {"EUR": "x"}},
        {},
    ],
)
async def test_a_bad_value_is_400_and_saves_nothing(
    issuer_stack: IssuerStack, boss: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    before = (await boss.get(URL)).json()
    response = await boss.put(URL, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert set(response.json()) == {"error", "code"}
    assert await counts(issuer_stack) == (0, 0)
    assert (await boss.get(URL)).json() == before


async def test_the_estimates_answer_while_the_issuer_is_down(
    issuer_stack: IssuerStack, ops: httpx.AsyncClient
) -> None:
    app = issuer_stack.app
    previous = app.state.issuer
    app.state.issuer = down_adapter(issuer_stack)
    try:
        response = await ops.get(URL)
    finally:
        await app.state.issuer.aclose()
        app.state.issuer = previous
    assert response.status_code == 200
    assert response.json()["runway_reason"] == "no issuer balance"  # never read, issuer down


async def test_without_cards_the_estimates_are_503(
    make_settings: Any,
) -> None:
    from tests.conftest import start_app

    app, lifespan = await start_app(make_settings(issuer="none"))
    try:
        async with client_for(app) as client:
            await signed_in(app.state.db, client, "boss@example.com", "super_admin")
            response = await client.get(URL)
        assert response.status_code == 503
        assert response.json()["code"] == "CARDS_DISABLED"
    finally:
        await lifespan.__aexit__(None, None, None)
