"""The issuer inbox and the B2B pool in the console: the inbox's stats, list, details (never a
3-D Secure code) and replay; the pool's upload through the sandbox issuer's token flow with its
per-profile report, statistics, profiles (disable / enable), groups and invites. Each action
goes through the API's services, is audited, and wants the page's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, B2bInvite, B2bProfile, Card
from tests.card_transactions.conftest import event, make_buyer, send, tx_data
from tests.conftest import client_for
from tests.console.helpers import console_sign_in, csrf_for, post_form
from tests.factories import create_operator, sign_in
from tests.issuer.stack import running_stack

INBOX = "/admin/issuer-events"
POOL = "/admin/b2b"


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
async def super_console(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(app.state.db, "pool-boss@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


# ---- the issuer inbox ----------------------------------------------------------------------


async def test_inbox_stats_tabs_details_and_replay(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    empty = await admin_client.get(INBOX)
    assert empty.status_code == 200
    assert 'id="no-events"' in empty.text
    assert 'aria-current="page">Issuer inbox' in empty.text

    buyer = await make_buyer(db)
    unknown = event("card.status_changed", {"card_id": "card_late", "status": "FROZEN"})
    assert (await send(client, settings, unknown))["status"] == "failed"
    await send(client, settings, event("transaction.cleared", tx_data(buyer, "tx_ok", 100), ago=2))
    otp = tx_data(buyer, "tx_3ds", 700, otp="654321", expires_at="2099-01-01T00:00:00Z")
    await send(client, settings, event("authentication.otp", otp))

    page = await admin_client.get(INBOX)  # the failed events first
    assert page.status_code == 200
    text = page.text
    assert re.search(r'id="stat-received">.*?<div class="figure">3<', text)
    assert re.search(r'id="stat-failed">.*?<div class="figure">1<', text)
    assert re.search(r'id="stat-processed">.*?<div class="figure">2<', text)
    assert 'id="tab-failed" aria-current="page"' in text
    assert unknown["id"] in text
    assert "unknown card" in text
    assert "tx_ok" not in text  # processed: in its own tab
    [failed_id] = re.findall(r'id="replay-([0-9a-f-]{36})"', text)

    everything = await admin_client.get(INBOX, params={"status": "all"})
    assert everything.text.count('<tr id="event-') == 3
    assert "authentication.otp" in everything.text
    assert "654321" not in everything.text  # the code is never shown
    assert "&#34;code&#34;: &#34;***&#34;" in everything.text
    processed = await admin_client.get(INBOX, params={"status": "processed"})
    assert processed.text.count('<tr id="event-') == 2
    assert 'id="replay-' not in processed.text  # nothing to replay
    bad = await admin_client.get(INBOX, params={"status": "nope", "page": "x"})
    assert bad.status_code == 200
    assert "Unknown status" in bad.text

    # Without the CSRF token: refused, nothing done.
    refused = await admin_client.post(f"{INBOX}/{failed_id}/replay", data={})
    assert refused.status_code == 403
    assert await _audit(db, "issuer_event.replay") == []

    # Still failing: replayed, audited, shown failed again.
    again = await post_form(admin_client, INBOX, f"{INBOX}/{failed_id}/replay")
    assert again.status_code == 200
    assert "failed again" in again.text
    # The card turns up: the replay handles it.
    async with db.transaction() as session:
        await session.execute(
            update(Card).where(Card.id == buyer.card_id).values(issuer_card_id="card_late")
        )
    done = await post_form(admin_client, INBOX, f"{INBOX}/{failed_id}/replay")
    assert done.status_code == 200
    assert "it is processed now" in done.text
    entries = await _audit(db, "issuer_event.replay")
    assert [(e.details["before"], e.details["after"]) for e in entries] == [
        ("failed", "failed"),
        ("failed", "processed"),
    ]
    assert {e.actor for e in entries} == {"admin-client@example.com"}
    # A processed event is refused with the service's message.
    refused_again = await post_form(admin_client, INBOX, f"{INBOX}/{failed_id}/replay")
    assert refused_again.status_code == 409
    assert "replaying it would change nothing" in refused_again.text
    missing = await post_form(
        admin_client, INBOX, f"{INBOX}/00000000-0000-0000-0000-000000000000/replay"
    )
    assert missing.status_code == 404
    assert len(await _audit(db, "issuer_event.replay")) == 2


async def test_inbox_paginates(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, settings: Settings
) -> None:
    for n in range(27):
        body = event("card.status_changed", {"card_id": f"card_x{n}", "status": "FROZEN"})
        await send(client, settings, body)
    first = await admin_client.get(INBOX)
    assert first.text.count('<tr id="event-') == 25
    assert "Page 1 of 2" in first.text
    assert 'href="/admin/issuer-events?status=failed&amp;page=2"' in first.text
    second = await admin_client.get(INBOX, params={"status": "failed", "page": 2})
    assert second.text.count('<tr id="event-') == 2


# ---- the B2B pool --------------------------------------------------------------------------


async def test_upload_through_the_sandbox_token_flow(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_stack(make_settings) as stack:
        boss = await create_operator(stack.db, "b2b-boss@example.com", role="super_admin")
        await console_sign_in(stack.http, boss)
        made = await post_form(stack.http, POOL, f"{POOL}/groups", {"name": "EU agencies"})
        assert made.status_code == 303
        home = await stack.http.get(POOL)
        group_id = re.search(r'<option value="([0-9a-f-]{36})"', home.text).group(1)  # type: ignore[union-attr]
        upload = (
            '[{"client_id": "alpha", "client_secret": "s3cret-alpha", "label": "Alpha Ltd"},'
            ' {"client_id": "beta", "client_secret": "bad-beta"}]'
        )
        # Without the CSRF token: refused before the issuer is asked.
        refused = await stack.http.post(
            f"{POOL}/upload", data={"profiles": upload}, files={"file": ("", b"")}
        )
        assert refused.status_code == 403
        token = await csrf_for(stack.http, POOL)
        report = await stack.http.post(
            f"{POOL}/upload",
            data={"csrf_token": token, "profiles": upload, "group_id": group_id},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert report.status_code == 200, report.text
        assert "1 of 2 profiles saved." in report.text
        assert "acct_alpha" in report.text
        assert "token refused by the issuer" in report.text
        assert "s3cret" not in report.text
        # A file wins over the text box; a profile already in the pool is reported.
        file_body = b'[{"client_id": "alpha", "client_secret": "s3cret-alpha"},' + (
            b' {"client_id": "gamma", "client_secret": "s3cret-gamma"}]'
        )
        second = await stack.http.post(
            f"{POOL}/upload",
            data={"csrf_token": token, "profiles": "ignored"},
            files={"file": ("pool.json", file_body, "application/json")},
        )
        assert second.status_code == 200, second.text
        assert "1 of 2 profiles saved." in second.text
        assert "already in the pool" in second.text
        async with stack.db.transaction() as s:
            stored = {p.external_id: p.group_id for p in await s.scalars(select(B2bProfile))}
        assert stored.keys() == {"acct_alpha", "acct_gamma"}
        assert str(stored["acct_alpha"]) == group_id
        uploads = await _audit(stack.db, "b2b.profiles.upload")
        assert [e.details["saved"] for e in uploads] == [["acct_alpha"], ["acct_gamma"]]
        assert all("s3cret" not in str(e.details) for e in uploads)

        # Bad input re-renders the form with the error in plain words.
        for body, words in (
            ("{not json", "not valid JSON"),
            ('{"client_id": "x"}', "must be a JSON array"),
            ("[]", "holds no profiles"),
            ("", "Paste the JSON array"),
            ('[{"client_id": "a", "client_id": "b"}]', "repeats a key"),
        ):
            response = await stack.http.post(
                f"{POOL}/upload", data={"csrf_token": token, "profiles": body}
            )
            assert response.status_code == 400, body
            assert words in response.text, body
            assert 'id="upload-form"' in response.text

        stats = await stack.http.get(POOL)
        assert re.search(r'id="stat-total">.*?<div class="figure">2<', stats.text)
        assert "EU agencies" in stats.text


async def test_profiles_disable_and_enable(
    app: FastAPI, super_console: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    from tests.b2b.conftest import FakeTokenFlow

    real, app.state.issuer = app.state.issuer, FakeTokenFlow()
    try:
        token = await csrf_for(super_console, POOL)
        body = (
            '[{"client_id": "one", "client_secret": "ok-1"},'
            ' {"client_id": "two", "client_secret": "ok-2"}]'
        )
        done = await super_console.post(
            f"{POOL}/upload", data={"csrf_token": token, "profiles": body}
        )
        assert "2 of 2 profiles saved." in done.text
    finally:
        app.state.issuer = real
    listing = await admin_client.get(f"{POOL}/profiles")
    assert listing.status_code == 200
    assert listing.text.count('<tr id="profile-') == 2
    async with db.transaction() as s:
        one = await s.scalar(select(B2bProfile).where(B2bProfile.external_id == "acct_one"))
    assert one is not None
    confirm = await admin_client.get(f"{POOL}/profiles/{one.id}/disable")
    assert confirm.status_code == 200
    assert 'id="confirm"' in confirm.text
    refused = await admin_client.post(f"{POOL}/profiles/{one.id}/disable", data={})
    assert refused.status_code == 403
    disabled = await post_form(
        admin_client, f"{POOL}/profiles/{one.id}/disable", f"{POOL}/profiles/{one.id}/disable"
    )
    assert (disabled.status_code, disabled.headers["location"]) == (
        303,
        f"{POOL}/profiles?done=disabled",
    )
    only_disabled = await admin_client.get(f"{POOL}/profiles", params={"status": "disabled"})
    assert only_disabled.text.count('<tr id="profile-') == 1
    assert f'id="enable-{one.id}"' in only_disabled.text
    enabled = await post_form(
        admin_client, f"{POOL}/profiles?status=disabled", f"{POOL}/profiles/{one.id}/enable"
    )
    assert enabled.status_code == 303
    entries = await _audit(db, "b2b.profile.update")
    assert [(e.details["before"], e.details["after"]) for e in entries] == [
        ({"status": "available"}, {"status": "disabled"}),
        ({"status": "disabled"}, {"status": "available"}),
    ]
    empty = await admin_client.get(f"{POOL}/profiles", params={"status": "disabled"})
    assert "No profiles match these filters." in empty.text
    bad = await admin_client.get(f"{POOL}/profiles", params={"status": "x", "group_id": "y"})
    assert bad.status_code == 200
    assert "Unknown group." in bad.text
    missing = await post_form(
        admin_client,
        f"{POOL}/profiles",
        f"{POOL}/profiles/{'0' * 8}-0000-0000-0000-{'0' * 12}/enable",
    )
    assert missing.status_code == 404


async def test_groups_and_invites(
    super_console: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    empty = await admin_client.get(POOL)
    assert empty.status_code == 200
    assert 'id="no-groups"' in empty.text
    assert 'id="upload-super-only"' in empty.text  # an operator may not upload
    refused = await admin_client.post(f"{POOL}/groups", data={"name": "EU"})
    assert refused.status_code == 403
    made = await post_form(admin_client, POOL, f"{POOL}/groups", {"name": "EU"})
    assert (made.status_code, made.headers["location"]) == (303, f"{POOL}?done=group")
    taken = await post_form(admin_client, POOL, f"{POOL}/groups", {"name": "eu"})
    assert taken.status_code == 409
    assert "A B2B group with this name exists" in taken.text
    blank = await post_form(admin_client, POOL, f"{POOL}/groups", {"name": "  "})
    assert blank.status_code == 400
    assert "Give the group a name" in blank.text
    assert [e.details["name"] for e in await _audit(db, "b2b.group.create")] == ["EU"]

    home = await admin_client.get(POOL)
    group_id = re.search(r'href="/admin/b2b/groups/([0-9a-f-]{36})"', home.text).group(1)  # type: ignore[union-attr]
    group_page = f"{POOL}/groups/{group_id}"
    as_operator = await admin_client.get(group_page)
    assert as_operator.status_code == 200
    assert 'id="invite-form"' not in as_operator.text
    assert "A super admin creates them." in as_operator.text

    page = await super_console.get(group_page)
    assert 'id="invite-form"' in page.text
    no_csrf = await super_console.post(f"{group_page}/invites", data={"max_uses": "3"})
    assert no_csrf.status_code == 403
    bad = await post_form(super_console, group_page, f"{group_page}/invites", {"max_uses": "0"})
    assert bad.status_code == 400
    assert "Max uses is a whole number" in bad.text
    past = await post_form(
        super_console, group_page, f"{group_page}/invites", {"expires_at": "2020-01-01T10:00"}
    )
    assert past.status_code == 400
    created = await post_form(
        super_console,
        group_page,
        f"{group_page}/invites",
        {"max_uses": "3", "expires_at": "2099-01-01T10:00"},
    )
    assert created.status_code == 201
    code = re.search(r'id="invite-code">(b2b_\w{32})<', created.text).group(1)  # type: ignore[union-attr]
    assert "shown only once" in created.text
    listed = await admin_client.get(group_page)
    assert code not in listed.text
    assert code[:12] + "…" in listed.text
    assert "0 / 3" in listed.text
    async with db.transaction() as s:
        invite = await s.scalar(select(B2bInvite))
    assert invite is not None
    assert (invite.max_uses, invite.expires_at.year) == (3, 2099)
    [entry] = await _audit(db, "b2b.invite.create")
    assert entry.details["code_prefix"] == code[:12]
    assert code not in str(entry.details)
    unknown = await admin_client.get(f"{POOL}/groups/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404


async def test_roles_and_cards_off(
    app: FastAPI, super_console: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    for who in (admin_client, super_console):
        menu = (await who.get(POOL)).text
        assert 'href="/admin/issuer-events"' in menu
        assert 'href="/admin/b2b"' in menu
    # Uploads and invites are a super admin's (as the API): an operator is refused.
    token = await csrf_for(admin_client, POOL)
    upload = await admin_client.post(
        f"{POOL}/upload", data={"csrf_token": token, "profiles": '[{"client_id": "a"}]'}
    )
    assert upload.status_code == 403
    real, app.state.issuer = app.state.issuer, None
    try:
        off = await super_console.get(POOL)
        assert 'id="cards-off"' in off.text
        assert 'id="upload-form"' not in off.text
        inbox_off = await super_console.get(INBOX)
        assert 'id="cards-off"' in inbox_off.text
        token = await csrf_for(super_console, POOL)
        refused = await super_console.post(
            f"{POOL}/upload", data={"csrf_token": token, "profiles": "[]"}
        )
        assert refused.status_code == 503
        assert "Cards are off" in refused.text
    finally:
        app.state.issuer = real
