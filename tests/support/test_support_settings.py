"""Support settings: defaults until saved, partial updates, validation, audit."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, SupportSettings
from paywarden.support import service

URL = "/api/v1/admin/support-settings"


async def test_defaults_until_saved(admin_client: httpx.AsyncClient) -> None:
    answer = await admin_client.get(URL)
    assert answer.status_code == 200
    assert answer.json() == {
        "contact": "",
        "working_hours": "",
        "average_reply_time": "",
        "reply_time_templates": service.DEFAULTS["reply_time_templates"],
        "updated_at": None,
        "updated_by": None,
    }


async def test_round_trip_partial_updates_and_audit(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    saved = await admin_client.put(
        URL,
        json={
            "contact": "@paywarden_support",
            "workingHours": "Mon-Fri 9:00-18:00 UTC",  # camelCase (deprecated) too
            "average_reply_time": " ~15 minutes ",
            "replyTimeTemplates": ["~5 minutes", "~15 minutes"],
        },
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["contact"] == "@paywarden_support"
    assert body["working_hours"] == "Mon-Fri 9:00-18:00 UTC"
    assert body["average_reply_time"] == "~15 minutes"
    assert body["reply_time_templates"] == ["~5 minutes", "~15 minutes"]
    assert body["updated_by"] == "admin-client@example.com"
    assert body["updated_at"].endswith("Z")
    assert (await admin_client.get(URL)).json() == body
    again = await admin_client.put(URL, json={"average_reply_time": "~1 hour"})
    assert again.json()["contact"] == "@paywarden_support"  # the others kept
    assert again.json()["average_reply_time"] == "~1 hour"
    cleared = await admin_client.put(URL, json={"reply_time_templates": [], "contact": ""})
    assert cleared.json()["reply_time_templates"] == []
    assert cleared.json()["contact"] == ""
    async with db.transaction() as session:
        assert len((await session.scalars(select(SupportSettings))).all()) == 1
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "support_settings.update")
                .order_by(AuditEntry.created_at)
            )
        ).all()
    assert len(entries) == 3
    assert entries[1].details == {"average_reply_time": {"from": "~15 minutes", "to": "~1 hour"}}
    assert {e.target_type for e in entries} == {"support_settings"}


@pytest.mark.parametrize(
    "body",
    [
        {"contact": None},
        {"contact": "x" * 256},
        {"reply_time_templates": "~5 minutes"},
        {"reply_time_templates": [""]},
        {"reply_time_templates": ["x" * 101]},
        {"reply_time_templates": ["t"] * 21},
        {"working_hours": 9},
    ],
)
async def test_validation(admin_client: httpx.AsyncClient, db: Database, body: dict) -> None:
    bad = await admin_client.put(URL, json=body)
    assert bad.status_code == 400, body
    assert bad.json()["code"] == "INVALID_BODY"
    assert (await admin_client.get(URL)).json()["updated_at"] is None
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.target_type == "support_settings")
        assert (await session.scalars(query)).all() == []


async def test_empty_update(admin_client: httpx.AsyncClient) -> None:
    empty = await admin_client.put(URL, json={})
    assert empty.status_code == 400
    assert empty.json() == {"error": "No fields to update", "code": "EMPTY_UPDATE"}


async def test_concurrent_first_saves_make_one_row(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    answers = await asyncio.gather(
        *(admin_client.put(URL, json={"contact": f"@support{i}"}) for i in range(6))
    )
    assert [a.status_code for a in answers] == [200] * 6
    async with db.transaction() as session:
        assert len((await session.scalars(select(SupportSettings))).all()) == 1
