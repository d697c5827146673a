"""Groups and invites: codes shown once and stored hashed; a client's redeem takes one
available profile of the invite's group, never one another redeem took, within max_uses."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from paywarden.kit.db import Database
from paywarden.kit.security import sha256_hex
from paywarden.kit.time import iso, utcnow
from paywarden.models import AuditEntry, B2bInvite, B2bProfile
from tests.b2b.conftest import FakeTokenFlow, profile
from tests.clients.test_auth import ban, bot_headers, make_client

PROFILES = "/api/v1/admin/b2b-profiles"
GROUPS = "/api/v1/admin/b2b-groups"
REDEEM = "/api/botcartd/b2b/redeem"


async def make_group(
    admin: httpx.AsyncClient, superuser: httpx.AsyncClient, name: str, profiles: int
) -> dict[str, Any]:
    group = (await admin.post(GROUPS, json={"name": name})).json()
    if profiles:
        upload = [profile(f"{name}-{i}") for i in range(profiles)]
        done = await superuser.post(PROFILES, json=upload, params={"group_id": group["id"]})
        assert done.json()["saved"] == profiles
    return group


async def invite(superuser: httpx.AsyncClient, group_id: str, **body: Any) -> dict[str, Any]:
    response = await superuser.post(f"{GROUPS}/{group_id}/invites", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def redeem(client: httpx.AsyncClient, who: str, code: str) -> httpx.Response:
    return await client.post(
        REDEEM, json={"code": code}, params={"externalUserId": who}, headers=bot_headers()
    )


async def test_groups_are_created_once_and_listed_with_counts(
    admin_client: httpx.AsyncClient, super_client: httpx.AsyncClient, issuer: FakeTokenFlow
) -> None:
    made = await admin_client.post(GROUPS, json={"name": "  Agencies "})
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "Agencies"
    assert made.json()["profiles"]["total"] == 0
    again = await admin_client.post(GROUPS, json={"name": "agencies"})
    assert (again.status_code, again.json()["code"]) == (409, "GROUP_EXISTS")
    blank = await admin_client.post(GROUPS, json={"name": "  "})
    assert (blank.status_code, blank.json()["code"]) == (400, "INVALID_BODY")
    await make_group(admin_client, super_client, "Bloggers", 2)
    listed = (await admin_client.get(GROUPS)).json()["data"]
    assert [(g["name"], g["profiles"]["available"]) for g in listed] == [
        ("Agencies", 0),
        ("Bloggers", 2),
    ]


async def test_an_invite_code_is_shown_once_and_stored_hashed(
    admin_client: httpx.AsyncClient, super_client: httpx.AsyncClient, db: Database
) -> None:
    group = await make_group(admin_client, super_client, "Partners", 0)
    expires = utcnow() + timedelta(days=7)
    made = await invite(super_client, group["id"], maxUses=3, expires_at=iso(expires))
    code = made["code"]
    assert code.startswith("b2b_")
    assert len(code) == 36
    assert made["code_prefix"] == code[:12]
    assert (made["max_uses"], made["uses"], made["expires_at"]) == (3, 0, iso(expires))
    assert made["created_by"] == "pool@example.com"

    listed = await admin_client.get(f"{GROUPS}/{group['id']}/invites")
    assert code not in listed.text
    assert [i["id"] for i in listed.json()["data"]] == [made["id"]]
    async with db.transaction() as session:
        stored = await session.scalar(select(B2bInvite))
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "b2b.invite.create")
        )
    assert stored is not None
    assert stored.code_hash == sha256_hex(code)
    assert entry is not None
    assert entry.target_id == group["id"]
    assert code not in str(entry.details)

    missing = await super_client.post(f"{GROUPS}/{made['id']}/invites", json={})
    assert (missing.status_code, missing.json()["code"]) == (404, "GROUP_NOT_FOUND")
    bad = await super_client.post(f"{GROUPS}/{group['id']}/invites", json={"max_uses": 0})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_BODY")
    by_operator = await admin_client.post(f"{GROUPS}/{group['id']}/invites", json={})
    assert by_operator.status_code == 403


async def test_redeem_hands_out_a_profile_once_per_client_and_counts_uses(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    super_client: httpx.AsyncClient,
    issuer: FakeTokenFlow,
    db: Database,
) -> None:
    group = await make_group(admin_client, super_client, "Team", 3)
    code = (await invite(super_client, group["id"], max_uses=2))["code"]
    alice = await make_client(db, "tg_1001")
    await make_client(db, "tg_1002")
    await make_client(db, "tg_1003")

    first = await redeem(client, "tg_1001", code)
    assert first.status_code == 201, first.text
    given = first.json()["profile"]
    assert first.json()["already_assigned"] is False
    assert given["group_id"] == group["id"]
    assert "secret" not in first.text

    # A retry returns the same profile and counts no use.
    again = await redeem(client, "tg_1001", code)
    assert again.status_code == 200
    assert again.json()["profile"]["id"] == given["id"]
    assert again.json()["already_assigned"] is True

    second = await redeem(client, "tg_1002", code)
    assert second.status_code == 201
    assert second.json()["profile"]["id"] != given["id"]
    used_up = await redeem(client, "tg_1003", code)
    assert (used_up.status_code, used_up.json()["code"]) == (410, "INVITE_USED_UP")

    async with db.transaction() as session:
        row = await session.get(B2bProfile, uuid.UUID(given["id"]))
        stored = await session.scalar(select(B2bInvite))
    assert row is not None
    assert (row.status, row.client_id) == ("assigned", alice.id)
    assert stored is not None
    assert stored.uses == 2

    stats = (await admin_client.get(f"{PROFILES}/stats")).json()
    assert (stats["assigned"], stats["available"]) == (2, 1)

    # Disabling keeps who had it; putting it back in the pool takes it from the client.
    off = await admin_client.patch(f"{PROFILES}/{given['id']}", json={"status": "disabled"})
    assert (off.json()["status"], off.json()["client_id"]) == ("disabled", str(alice.id))
    back = await admin_client.patch(f"{PROFILES}/{given['id']}", json={"status": "available"})
    assert (back.json()["status"], back.json()["client_id"]) == ("available", None)
    assert back.json()["assigned_at"] is None
    async with db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "b2b.profile.update")
            .order_by(AuditEntry.created_at.desc())
            .limit(1)
        )
    assert entry is not None
    assert entry.details["before"]["client_id"] == str(alice.id)
    assert entry.details["after"] == {"status": "available", "client_id": None, "assigned_at": None}


async def test_redeem_refusals(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    super_client: httpx.AsyncClient,
    issuer: FakeTokenFlow,
    db: Database,
) -> None:
    empty = await make_group(admin_client, super_client, "Empty", 0)
    full = await make_group(admin_client, super_client, "Full", 1)
    no_profiles = (await invite(super_client, empty["id"], max_uses=5))["code"]
    past = iso(utcnow() - timedelta(minutes=1))
    expired = (await invite(super_client, full["id"], expires_at=past))["code"]
    await make_client(db, "tg_2001")
    banned = await make_client(db, "tg_2002")
    await ban(db, banned.id)

    cases = [
        ("tg_2001", "b2b_unknown", 404, "INVITE_NOT_FOUND"),
        ("tg_2001", expired, 410, "INVITE_EXPIRED"),
        ("tg_2001", no_profiles, 409, "POOL_EMPTY"),
        ("tg_2002", no_profiles, 403, "CLIENT_BANNED"),
    ]
    for who, code, status, error in cases:
        response = await redeem(client, who, code)
        assert (response.status_code, response.json()["code"]) == (status, error), code
    # The failed redeem on an empty group rolled back its use.
    async with db.transaction() as session:
        uses = {i.max_uses: i.uses for i in (await session.scalars(select(B2bInvite))).all()}
    assert uses == {5: 0, 1: 0}
    no_auth = await client.post(REDEEM, json={"code": no_profiles})
    assert no_auth.status_code == 401


async def test_concurrent_redeems_never_share_a_profile_nor_pass_max_uses(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    super_client: httpx.AsyncClient,
    issuer: FakeTokenFlow,
    db: Database,
) -> None:
    group = await make_group(admin_client, super_client, "Race", 6)
    code = (await invite(super_client, group["id"], max_uses=4))["code"]
    people = [f"tg_{3000 + i}" for i in range(10)]
    for who in people:
        await make_client(db, who)

    answers = await asyncio.gather(*(redeem(client, who, code) for who in people))
    won = [a for a in answers if a.status_code == 201]
    assert len(won) == 4, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code != 201} == {"INVITE_USED_UP"}
    ids = [a.json()["profile"]["id"] for a in won]
    assert len(set(ids)) == 4
    async with db.transaction() as session:
        assigned = (
            await session.scalars(select(B2bProfile).where(B2bProfile.status == "assigned"))
        ).all()
        stored = await session.scalar(select(B2bInvite))
    assert len({p.client_id for p in assigned}) == len(assigned) == 4
    assert stored is not None
    assert stored.uses == 4


async def test_concurrent_redeems_on_a_short_pool(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    super_client: httpx.AsyncClient,
    issuer: FakeTokenFlow,
    db: Database,
) -> None:
    group = await make_group(admin_client, super_client, "Short", 3)
    code = (await invite(super_client, group["id"], max_uses=100))["code"]
    people = [f"tg_{4000 + i}" for i in range(8)]
    for who in people:
        await make_client(db, who)
    answers = await asyncio.gather(*(redeem(client, who, code) for who in people))
    won = [a.json()["profile"]["id"] for a in answers if a.status_code == 201]
    assert len(won) == len(set(won)) == 3
    assert sorted(a.json()["code"] for a in answers if a.status_code != 201) == ["POOL_EMPTY"] * 5
    async with db.transaction() as session:
        stored = await session.scalar(select(B2bInvite))
    assert stored is not None
    assert stored.uses == 3  # refused redeems gave their use back
