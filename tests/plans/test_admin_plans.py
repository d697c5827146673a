"""Plans (the seed's tariffs) in the admin API: CRUD, validation, the default, archiving, audit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Plan
from paywarden.plans import service

PLANS = "/api/v1/admin/plans"


def plan_body(name: str = "Basic", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "bullets": "1 card\nNo surprises",
        "monthly_fee": "9.99",
        "cards_included": 1,
        "max_active_cards": 5,
        "card_issue_fee": "5",
        "topup_fee_percent": "1.5",
        "fx_fee_percent": "0.75",
        **extra,
    }


async def create_plan(client: httpx.AsyncClient, name: str = "Basic", **extra: Any) -> dict:
    response = await client.post(PLANS, json=plan_body(name, **extra))
    assert response.status_code == 201, response.text
    return response.json()


async def audit_rows(db: Database, action: str | None = None) -> list[AuditEntry]:
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.target_type == "plan")
        if action:
            query = query.where(AuditEntry.action == action)
        return list((await session.scalars(query.order_by(AuditEntry.created_at))).all())


async def plan_count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Plan)) or 0)


async def test_create_renders_money_and_percents_as_strings(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    body = await create_plan(super_client)
    assert {k: body[k] for k in body if k not in ("id", "created_at", "updated_at")} == {
        "name": "Basic",
        "bullets": "1 card\nNo surprises",
        "currency": "EUR",
        "monthly_fee": "9.99",
        "monthly_fee_usd": "9.99",
        "cards_included": 1,
        "max_active_cards": 5,
        "card_issue_fee": "5.00",
        "card_issue_fee_usd": "5.00",
        "topup_fee_percent": "1.5",
        "fx_fee_percent": "0.75",
        "hidden_from_home": False,
        "sort_order": 0,
        "is_default": False,
        "archived": False,
    }
    assert body["created_at"].endswith("Z")
    async with db.transaction() as session:
        row = await session.get(Plan, uuid.UUID(body["id"]))
        assert row is not None
        assert (row.monthly_fee, row.card_issue_fee) == (999, 500)  # cents
        assert (row.topup_fee_bps, row.fx_fee_bps) == (150, 75)  # hundredths of a percent
    [entry] = await audit_rows(db, "plan.create")
    assert entry.target_id == body["id"]
    assert entry.actor == "pricing@example.com"
    assert entry.details["monthly_fee"] == "9.99"


async def test_list_has_all_plans_by_sort_order(super_client: httpx.AsyncClient) -> None:
    await create_plan(super_client, "Gold", sort_order=30)
    await create_plan(super_client, "Free", sort_order=-5, hidden_from_home=True)
    silver = await create_plan(super_client, "Silver", sort_order=20)
    archived = await super_client.put(f"{PLANS}/{silver['id']}", json={"archived": True})
    assert archived.status_code == 200
    listed = (await super_client.get(PLANS)).json()["data"]
    assert [p["name"] for p in listed] == ["Free", "Silver", "Gold"]
    assert [p["archived"] for p in listed] == [False, True, False]


async def test_camel_case_bodies_are_accepted(super_client: httpx.AsyncClient) -> None:
    made = await super_client.post(
        PLANS,
        json={
            "name": "Camel",
            "monthlyFee": "1.50",
            "cardsIncluded": 2,
            "maxActiveCards": 4,
            "cardIssueFee": "0",
            "topupFeePercent": "2",
            "fxFeePercent": "0",
            "hiddenFromHome": True,
            "sortOrder": 7,
            "isDefault": True,
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["monthly_fee"], body["topup_fee_percent"], body["fx_fee_percent"]) == (
        "1.50",
        "2",
        "0",
    )
    assert body["hidden_from_home"] is True
    assert body["is_default"] is True
    assert body["sort_order"] == 7
    updated = await super_client.put(
        f"{PLANS}/{body['id']}", json={"monthlyFee": "3", "fxFeePercent": "100"}
    )
    assert updated.status_code == 200
    assert (updated.json()["monthly_fee"], updated.json()["fx_fee_percent"]) == ("3.00", "100")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"monthly_fee": "-1"}, "INVALID_BODY"),
        ({"card_issue_fee": "-0.01"}, "INVALID_BODY"),
        ({"monthly_fee": "9.999"}, "INVALID_BODY"),
        ({"monthly_fee": 9.99}, "INVALID_BODY"),  # a float is never a money value
        ({"monthly_fee": "abc"}, "INVALID_BODY"),
        ({"monthly_fee": "\uff19.\uff19\uff19"}, "INVALID_BODY"),  # full-width digits
        ({"card_issue_fee": "\u0661\u0662.\u0665"}, "INVALID_BODY"),  # Arabic-Indic digits
        ({"fx_fee_percent": "1e0"}, "INVALID_BODY"),
        ({"monthly_fee": "1000000.01"}, "INVALID_BODY"),
        ({"topup_fee_percent": "100.01"}, "INVALID_BODY"),
        ({"fx_fee_percent": "-1"}, "INVALID_BODY"),
        ({"fx_fee_percent": "1.234"}, "INVALID_BODY"),
        ({"name": ""}, "INVALID_BODY"),
        ({"name": "   "}, "INVALID_BODY"),
        ({"name": "x" * 101}, "INVALID_BODY"),
        ({"cards_included": -1}, "INVALID_BODY"),
        ({"sort_order": "first"}, "INVALID_BODY"),
        ({"max_active_cards": 0}, "VALIDATION_ERROR"),  # below cards_included
    ],
)
async def test_create_validation(
    super_client: httpx.AsyncClient, db: Database, change: dict[str, Any], code: str
) -> None:
    bad = await super_client.post(PLANS, json=plan_body(**change))
    assert bad.status_code == 400, change
    assert bad.json()["code"] == code
    assert set(bad.json()) == {"error", "code"}
    assert await plan_count(db) == 0
    assert await audit_rows(db) == []


async def test_missing_field_and_duplicate_name(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    body = plan_body()
    del body["monthly_fee"]
    missing = await super_client.post(PLANS, json=body)
    assert missing.status_code == 400
    assert missing.json()["code"] == "INVALID_BODY"
    await create_plan(super_client, "Basic")
    taken = await super_client.post(PLANS, json=plan_body(" Basic "))  # trimmed: the same name
    assert taken.status_code == 409
    assert taken.json() == {"error": "Plan name already in use", "code": "PLAN_NAME_TAKEN"}
    assert await plan_count(db) == 1


async def test_update(super_client: httpx.AsyncClient, db: Database) -> None:
    plan = await create_plan(super_client, "Basic")
    await create_plan(super_client, "Other")
    url = f"{PLANS}/{plan['id']}"
    empty = await super_client.put(url, json={})
    assert empty.status_code == 400
    assert empty.json()["code"] == "EMPTY_UPDATE"
    for body in (
        {"name": None},
        {"monthly_fee": "-5"},
        {"topup_fee_percent": "101"},
        {"archived": "maybe"},
    ):
        bad = await super_client.put(url, json=body)
        assert bad.status_code == 400, body
        assert bad.json()["code"] == "INVALID_BODY"
    below = await super_client.put(url, json={"cards_included": 6})  # max_active_cards is 5
    assert below.json()["code"] == "VALIDATION_ERROR"
    taken = await super_client.put(url, json={"name": "Other"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "PLAN_NAME_TAKEN"
    missing = await super_client.put(
        f"{PLANS}/00000000-0000-4000-8000-000000000000", json={"name": "x"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "Plan not found", "code": "NOT_FOUND"}
    unchanged = (await super_client.get(PLANS)).json()["data"][0]
    assert unchanged == plan
    ok = await super_client.put(
        url, json={"name": "Renamed", "card_issue_fee": "2.5", "bullets": "new"}
    )
    assert ok.status_code == 200
    assert (ok.json()["name"], ok.json()["card_issue_fee"]) == ("Renamed", "2.50")
    assert ok.json()["card_issue_fee_usd"] == "2.50"
    [entry] = await audit_rows(db, "plan.update")
    assert entry.target_id == plan["id"]
    assert entry.details == {
        "name": {"from": "Basic", "to": "Renamed"},
        "card_issue_fee": {"from": "5.00", "to": "2.50"},
        "bullets": {"from": "1 card\nNo surprises", "to": "new"},
    }


async def _defaults(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list((await session.scalars(select(Plan.name).where(Plan.is_default))).all())


async def test_one_default_at_most(super_client: httpx.AsyncClient, db: Database) -> None:
    a = await create_plan(super_client, "A", is_default=True)
    b = await create_plan(super_client, "B", is_default=True)  # takes the flag from A
    assert await _defaults(db) == ["B"]
    [cleared] = await audit_rows(db, "plan.unset_default")
    assert cleared.target_id == a["id"]
    assert cleared.details["replaced_by"] == b["id"]
    c = await create_plan(super_client, "C")
    switched = await super_client.put(f"{PLANS}/{c['id']}", json={"isDefault": True})
    assert switched.status_code == 200
    assert switched.json()["is_default"] is True
    assert await _defaults(db) == ["C"]
    assert [e.target_id for e in await audit_rows(db, "plan.set_default")] == [c["id"]]
    async with db.transaction() as session:
        assert (await service.default_plan(session)).name == "C"  # type: ignore[union-attr]
    # No default at all is allowed: then new clients get none.
    unset = await super_client.put(f"{PLANS}/{c['id']}", json={"is_default": False})
    assert unset.json()["is_default"] is False
    assert await _defaults(db) == []


async def test_the_database_refuses_a_second_default(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    a = await create_plan(super_client, "A", is_default=True)
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(
                Plan(
                    name="Sneaky",
                    monthly_fee=0,
                    cards_included=0,
                    max_active_cards=0,
                    card_issue_fee=0,
                    topup_fee_bps=0,
                    fx_fee_bps=0,
                    is_default=True,
                )
            )
    assert await _defaults(db) == ["A"]
    assert a["is_default"]


async def test_archive_rules(super_client: httpx.AsyncClient, db: Database) -> None:
    default = await create_plan(super_client, "Default", is_default=True)
    other = await create_plan(super_client, "Other")
    refused = await super_client.put(f"{PLANS}/{default['id']}", json={"archived": True})
    assert refused.status_code == 409
    assert refused.json()["code"] == "INVALID_STATE"
    both = await super_client.post(PLANS, json=plan_body("New", is_default=True, archived=True))
    assert both.status_code == 409
    assert both.json()["code"] == "INVALID_STATE"
    archived = await super_client.put(f"{PLANS}/{other['id']}", json={"archived": True})
    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    to_default = await super_client.put(f"{PLANS}/{other['id']}", json={"is_default": True})
    assert to_default.status_code == 409
    assert to_default.json()["code"] == "INVALID_STATE"
    async with db.transaction() as session:
        assert [p.name for p in await service.home_catalog(session)] == ["Default"]
    # Unarchive and make it the default in one call: then the old default may be archived.
    swap = await super_client.put(
        f"{PLANS}/{other['id']}", json={"archived": False, "is_default": True}
    )
    assert swap.status_code == 200
    now_ok = await super_client.put(f"{PLANS}/{default['id']}", json={"archived": True})
    assert now_ok.status_code == 200
    assert [e.target_id for e in await audit_rows(db, "plan.archive")] == [
        other["id"],
        default["id"],
    ]
    listed = {p["name"]: p for p in (await super_client.get(PLANS)).json()["data"]}
    assert listed["Default"]["archived"] is True  # archived plans stay
    assert listed["Other"]["is_default"] is True


async def test_operators_read_but_only_super_admins_write(
    admin_client: httpx.AsyncClient, super_client: httpx.AsyncClient, db: Database
) -> None:
    plan = await create_plan(super_client)
    assert (await admin_client.get(PLANS)).json()["data"][0]["id"] == plan["id"]
    created = await admin_client.post(PLANS, json=plan_body("Mine"))
    assert created.status_code == 403
    assert created.json()["code"] == "FORBIDDEN"
    updated = await admin_client.put(f"{PLANS}/{plan['id']}", json={"name": "Mine"})
    assert updated.status_code == 403
    assert await plan_count(db) == 1


async def test_concurrent_defaults_leave_exactly_one(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    answers = await asyncio.gather(
        *(super_client.post(PLANS, json=plan_body(f"P{i}", is_default=True)) for i in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6
    assert len(await _defaults(db)) == 1
