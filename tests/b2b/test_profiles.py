"""Uploading B2B profiles: validated through the issuer before they are saved, a report per
profile, secrets encrypted at rest and never shown; the pool's statistics, list and changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from paywarden.b2b.crypto import ProfileVault, derived_key, vault_for
from paywarden.b2b.errors import B2bKeyMissing
from paywarden.config import ConfigError, Settings, load_settings
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, B2bProfile
from tests.b2b.conftest import FakeTokenFlow, profile
from tests.conftest import TEST_XPUB, client_for, start_app
from tests.factories import create_operator, sign_in

PROFILES = "/api/v1/admin/b2b-profiles"
GROUPS = "/api/v1/admin/b2b-groups"


async def rows(db: Database) -> list[B2bProfile]:
    async with db.transaction() as session:
        return list(
            (await session.scalars(select(B2bProfile).order_by(B2bProfile.external_id))).all()
        )


async def test_upload_reports_each_profile_and_saves_only_valid_ones(
    super_client: httpx.AsyncClient, issuer: FakeTokenFlow, db: Database, settings: Settings
) -> None:
    upload = [
        profile(1, label="Main account", region="EU"),  # unknown field: kept, encrypted
        profile(2, secret="bad"),  # refused by the token flow
        "not an object",
        {"client_id": "cid4"},  # no secret
        profile(1),  # the same account as #0
        profile(5, external_id="acct_cid5"),  # given and confirmed
        profile(6, external_id="someone-else"),  # the credentials are another account's
        profile(7, secret="boom"),  # the issuer failed
    ]
    response = await super_client.post(PROFILES, json=upload)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 8
    assert report["saved"] == 2
    by_index = {r["index"]: r for r in report["results"]}
    assert [by_index[i]["ok"] for i in range(8)] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    assert by_index[0]["external_id"] == "acct_cid1"
    assert by_index[1]["reason"] == "token refused by the issuer: invalid_client"
    assert by_index[2]["reason"] == "not a JSON object"
    assert "client_secret" in by_index[3]["reason"]
    assert by_index[4]["reason"] == "duplicate of profile #0 in this upload"
    assert by_index[6]["reason"] == "the credentials belong to issuer account acct_cid6"
    assert by_index[7]["reason"] == "issuer error: token endpoint answered 502"
    # Malformed profiles never reach the issuer.
    assert {c["client_id"] for c in issuer.calls} == {"cid1", "cid2", "cid5", "cid6", "cid7"}
    # No secret in the answer.
    assert "good-secret" not in response.text
    assert "bad-" not in response.text

    saved = await rows(db)
    assert [(p.external_id, p.label, p.status, p.issuer) for p in saved] == [
        ("acct_cid1", "Main account", "available", "sandbox"),
        ("acct_cid5", None, "available", "sandbox"),
    ]
    assert by_index[0]["id"] == str(saved[0].id)
    # Encrypted at rest: the secret is not in the row, the vault reads it back whole.
    assert "good-secret" not in saved[0].secret_encrypted
    secret = vault_for(settings).decrypt(saved[0].secret_encrypted)
    assert secret == {"client_id": "cid1", "client_secret": "good-secret-1", "region": "EU"}

    async with db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "b2b.profiles.upload")
        )
    assert entry is not None
    assert entry.actor == "pool@example.com"
    assert entry.details["saved"] == ["acct_cid1", "acct_cid5"]
    assert len(entry.details["failed"]) == 6
    assert "secret-" not in json.dumps(entry.details)


async def test_a_second_upload_of_the_same_account_is_refused(
    super_client: httpx.AsyncClient, issuer: FakeTokenFlow, db: Database
) -> None:
    assert (await super_client.post(PROFILES, json=[profile(1)])).json()["saved"] == 1
    again = await super_client.post(
        PROFILES, json=[profile(1), profile(2, external_id="acct_cid1")]
    )
    assert again.json()["saved"] == 0
    assert [r["reason"] for r in again.json()["results"]] == ["already in the pool"] * 2
    # The one given as acct_cid1 was refused before the issuer was asked.
    assert [c["client_id"] for c in issuer.calls] == ["cid1", "cid1"]
    assert len(await rows(db)) == 1


async def test_an_account_id_the_issuer_does_not_report_must_be_given(
    super_client: httpx.AsyncClient, issuer: FakeTokenFlow, db: Database
) -> None:
    response = await super_client.post(
        PROFILES,
        json=[profile(1, no_account=True), profile(2, no_account=True, external_id="ext-2")],
    )
    results = response.json()["results"]
    assert results[0]["reason"] == "the issuer reported no account id: give external_id"
    assert results[1]["ok"] is True
    assert results[1]["external_id"] == "ext-2"


async def test_validation_runs_concurrently_but_bounded(
    super_client: httpx.AsyncClient, issuer: FakeTokenFlow
) -> None:
    upload = [profile(i, secret="slow") for i in range(40)]
    response = await super_client.post(PROFILES, json=upload)
    assert response.json()["saved"] == 40
    assert 1 < issuer.max_in_flight <= 8


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"client_id": "x"}, "INVALID_BODY"),  # not an array
        ([], "VALIDATION_ERROR"),
        ([profile(i) for i in range(501)], "VALIDATION_ERROR"),
    ],
)
async def test_bad_uploads_are_refused_whole(
    super_client: httpx.AsyncClient, issuer: FakeTokenFlow, body: object, code: str
) -> None:
    response = await super_client.post(PROFILES, json=body)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert issuer.calls == []


async def test_an_operator_cannot_upload(
    admin_client: httpx.AsyncClient, issuer: FakeTokenFlow
) -> None:
    response = await admin_client.post(PROFILES, json=[profile(1)])
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


async def test_production_without_a_b2b_key_encrypts_under_encryption_keys(
    make_settings: Callable[..., Settings],
) -> None:
    """Production always has ENCRYPTION_KEYS (it refuses to start without them): with no
    B2B_ENCRYPTION_KEY the profiles are encrypted under those, never under a derived key."""
    app_key = Fernet.generate_key().decode()
    settings = make_settings(env="production", encryption_keys=app_key, b2b_encryption_key=None)
    app, lifespan = await start_app(settings)
    try:
        real, fake = app.state.issuer, FakeTokenFlow()
        app.state.issuer = fake
        op = await create_operator(app.state.db, "boss@example.com", role="super_admin")
        async with client_for(app, https=True) as c:
            await sign_in(c, op)
            response = await c.post(PROFILES, json=[profile(1)])
        app.state.issuer = real
        saved = await rows(app.state.db)
    finally:
        await lifespan.__aexit__(None, None, None)
    assert response.json()["saved"] == 1, response.text
    secret = ProfileVault([app_key.encode()]).decrypt(saved[0].secret_encrypted)
    assert secret["client_id"] == "cid1"


def test_vault_keys_rotation_and_derivation(make_settings: Callable[..., Settings]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = vault_for(make_settings(b2b_encryption_key=old)).encrypt({"client_secret": "s"})
    rotated = vault_for(make_settings(b2b_encryption_key=f"{new},{old}"))
    assert rotated.decrypt(token) == {"client_secret": "s"}
    with pytest.raises(ValueError, match="cannot be decrypted"):
        vault_for(make_settings(b2b_encryption_key=new)).decrypt(token)
    # Development without a key: derived from SECRET_KEY, stable across restarts.
    dev = make_settings(encryption_keys=None)
    assert vault_for(dev).decrypt(vault_for(dev).encrypt({"a": 1})) == {"a": 1}
    assert ProfileVault([derived_key(dev.signing_key())]).decrypt(
        vault_for(dev).encrypt({"a": 1})
    ) == {"a": 1}
    assert ProfileVault([derived_key("k" * 32)]).encrypt({}) != ""
    # Production settings without ENCRYPTION_KEYS are refused at start; were they built all
    # the same, the B2B vault still would not fall back to a derived key.
    bare = make_settings(env="production").model_copy(update={"encryption_keys": None})
    with pytest.raises(B2bKeyMissing):
        vault_for(bare)
    assert "***" in repr(vault_for(dev))


def test_a_malformed_key_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="B2B_ENCRYPTION_KEY") as caught:
        load_settings(_env_file=None, xpub=TEST_XPUB, b2b_encryption_key="not-a-key")
    assert "not-a-key" not in str(caught.value)


async def test_stats_list_and_changes(
    super_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    issuer: FakeTokenFlow,
    db: Database,
) -> None:
    group = (await admin_client.post(GROUPS, json={"name": "Premium"})).json()
    await super_client.post(
        PROFILES, json=[profile(1), profile(2)], params={"group_id": group["id"]}
    )
    await super_client.post(PROFILES, json=[profile(3)])

    listed = (await admin_client.get(PROFILES, params={"limit": 2})).json()
    assert listed["pagination"] == {"page": 1, "limit": 2, "total": 3, "total_pages": 2}
    assert all("secret" not in key for row in listed["data"] for key in row)
    in_group = (await admin_client.get(PROFILES, params={"groupId": group["id"]})).json()
    assert {p["external_id"] for p in in_group["data"]} == {"acct_cid1", "acct_cid2"}

    everything = (await admin_client.get(PROFILES)).json()["data"]
    third = next(p for p in everything if p["external_id"] == "acct_cid3")
    changed = await admin_client.patch(
        f"{PROFILES}/{third['id']}", json={"status": "disabled", "groupId": group["id"]}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["group_id"]) == ("disabled", group["id"])

    stats = (await admin_client.get(f"{PROFILES}/stats")).json()
    assert {k: stats[k] for k in ("total", "available", "assigned", "disabled")} == {
        "total": 3,
        "available": 2,
        "assigned": 0,
        "disabled": 1,
    }
    assert stats["groups"] == [
        {
            "group_id": group["id"],
            "name": "Premium",
            "total": 3,
            "available": 2,
            "assigned": 0,
            "disabled": 1,
        }
    ]
    disabled = (await admin_client.get(PROFILES, params={"status": "disabled"})).json()["data"]
    assert [p["external_id"] for p in disabled] == ["acct_cid3"]

    async with db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "b2b.profile.update")
        )
    assert entry is not None
    assert entry.target_id == third["id"]
    assert entry.details["before"] == {"status": "available", "group_id": None}
    assert entry.details["after"] == {"status": "disabled", "group_id": group["id"]}


async def test_profile_change_refusals(
    super_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, issuer: FakeTokenFlow
) -> None:
    await super_client.post(PROFILES, json=[profile(1)])
    one = (await admin_client.get(PROFILES)).json()["data"][0]
    cases = [
        (f"{PROFILES}/{one['id']}", {}, 400, "EMPTY_UPDATE"),
        (f"{PROFILES}/{one['id']}", {"status": "assigned"}, 400, "INVALID_BODY"),
        (f"{PROFILES}/{one['id']}", {"group_id": str(uuid.uuid4())}, 404, "GROUP_NOT_FOUND"),
        (f"{PROFILES}/{uuid.uuid4()}", {"status": "disabled"}, 404, "PROFILE_NOT_FOUND"),
    ]
    for url, body, status, code in cases:
        response = await admin_client.patch(url, json=body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    bad_query = await admin_client.get(PROFILES, params={"status": "lost"})
    assert (bad_query.status_code, bad_query.json()["code"]) == (400, "INVALID_QUERY")
    unknown_group = await super_client.post(
        PROFILES, json=[profile(2)], params={"group_id": str(uuid.uuid4())}
    )
    assert (unknown_group.status_code, unknown_group.json()["code"]) == (404, "GROUP_NOT_FOUND")
