"""The operators' EUR/USD rate: set exactly, kept as history, audited, read by `current_rate`."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, FxRate
from paywarden.plans import service
from paywarden.plans.errors import FxRateNotSet

FX = "/api/v1/admin/fx-rate"


async def test_unset_until_an_operator_sets_it(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    answer = await admin_client.get(FX)
    assert answer.status_code == 200
    assert answer.json() == {"eur_usd": None, "updated_at": None, "updated_by": None}
    async with db.transaction() as session:
        with pytest.raises(FxRateNotSet):
            await service.current_rate(session)


async def test_set_round_trip_history_and_audit(
    super_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    first = await super_client.put(FX, json={"eur_usd": "1.085"})
    assert first.status_code == 200
    assert first.json()["eur_usd"] == "1.0850"
    assert first.json()["updated_by"] == "pricing@example.com"
    assert first.json()["updated_at"].endswith("Z")
    second = await super_client.put(FX, json={"eurUsd": "1.092345"})  # camelCase too
    assert second.json()["eur_usd"] == "1.092345"
    read = (await admin_client.get(FX)).json()
    assert read == second.json()
    async with db.transaction() as session:
        assert await service.current_rate(session) == Decimal("1.092345")
        history = (await session.scalars(select(FxRate).order_by(FxRate.id))).all()
        assert [r.eur_usd_micros for r in history] == [1_085_000, 1_092_345]
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "fx_rate.update")
                .order_by(AuditEntry.created_at)
            )
        ).all()
    assert [e.details for e in entries] == [
        {"eur_usd": "1.0850", "previous": None},
        {"eur_usd": "1.092345", "previous": "1.0850"},
    ]
    assert {e.target_type for e in entries} == {"fx_rate"}


@pytest.mark.parametrize(
    "value",
    # JSON numbers too: rates, like amounts, are decimal strings (kit.money's one parser).
    [
        *("0", "0.05", "10.000001", "11", "-1", "1.0850001", "abc", "", 1.085, 10, None),
        *("\u0661.\u0660\u0668\u0665", "\uff11.\uff10\uff18\uff15"),  # Arabic, full-width
        *("1.085\n", "+1.085", "1e0", "01.085", "1_0", " 1.085"),
    ],
)
async def test_invalid_rates_are_refused(
    super_client: httpx.AsyncClient, db: Database, value: object
) -> None:
    bad = await super_client.put(FX, json={"eur_usd": value})
    assert bad.status_code == 400, value
    assert bad.json()["code"] == "INVALID_BODY"
    async with db.transaction() as session:
        assert (await session.scalars(select(FxRate))).all() == []


async def test_bounds_are_inclusive(super_client: httpx.AsyncClient) -> None:
    assert (await super_client.put(FX, json={"eur_usd": "0.1"})).json()["eur_usd"] == "0.1000"
    assert (await super_client.put(FX, json={"eur_usd": "10"})).json()["eur_usd"] == "10.0000"


async def test_only_super_admins_set_it(admin_client: httpx.AsyncClient) -> None:
    refused = await admin_client.put(FX, json={"eur_usd": "1.1"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN"
    assert (await admin_client.get(FX)).json()["eur_usd"] is None
