"""The support desk in the console: lookup by id, the global card transactions list, web users
(list, CSV, link, unlink, disable, enable, delete — confirmed and audited)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser
from sqlalchemy import func, select

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, WebUser, WebUserSession
from paywarden.operators.tokens import COOKIE_NAME
from tests.card_transaction_review.test_card_transactions import DAY, create_card, create_tx
from tests.clients.test_auth import make_client
from tests.conftest import client_for
from tests.console.helpers import csrf_for, post_form
from tests.e2e.conftest import PHONE, browser, live_server, needs_chromium  # noqa: F401
from tests.factories import create_merchant, create_operator, create_payment, sign_in

PAGES = ("/admin/lookup", "/admin/card-transactions", "/admin/web-users")


async def make_web_user(
    db: Database,
    email: str,
    *,
    status: str = "active",
    verified: bool = True,
    external_user_id: str | None = None,
    created_at_offset: int = 0,
) -> WebUser:
    async with db.transaction() as s:
        client = await clients.upsert_client(s, f"web_{uuid.uuid4().hex[:12]}")
        user = WebUser(
            email=email,
            password_hash="x",
            status=status,
            email_verified_at=utcnow() if verified else None,
            client_id=client.id,
            external_user_id=external_user_id,
            created_at=utcnow() + timedelta(seconds=created_at_offset),
        )
        s.add(user)
    return user


async def audit_of(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.created_at)
        )
        return list(rows)


async def count_audit(db: Database) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


# Menu and access


@pytest.mark.parametrize("role", ["operator", "super_admin"])
async def test_every_operator_sees_and_opens_the_pages(
    app: FastAPI, db: Database, role: str
) -> None:
    op = await create_operator(db, f"{role}@example.com", role=role)
    async with client_for(app) as c:
        await sign_in(c, op)
        home = (await c.get("/admin")).text
        for path in PAGES:
            assert f'href="{path}"' in home, path
            page = await c.get(path)
            assert page.status_code == 200, path
            assert 'href="/admin/static/support_desk.css"' in page.text
            assert 'aria-current="page"' in page.text


async def test_signed_out_goes_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in (*PAGES, "/admin/web-users.csv"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=")


# Lookup


async def test_lookup_help_and_no_match(admin_client: httpx.AsyncClient) -> None:
    empty = (await admin_client.get("/admin/lookup")).text
    assert 'id="lookup-help"' in empty
    assert "id or e-mail" in empty
    missing = (await admin_client.get("/admin/lookup", params={"id": "tg_404"})).text
    assert 'id="no-match"' in missing
    assert "Nothing has the id tg_404." in missing
    assert 'id="works"' in missing
    odd = await admin_client.get("/admin/lookup", params={"id": "<script>x</script>"})
    assert odd.status_code == 200
    assert "<script>x</script>" not in odd.text


async def test_lookup_links_every_match_to_its_page(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    ann = await make_client(db, "tg_9001", display_name="Ann")
    user = await make_web_user(db, "ann@example.com", external_user_id="tg_9001")
    card = await create_card(db, ann)
    merchant = await create_merchant(db)
    order = await create_payment(client, merchant, external_id="inv-1")

    page = (await admin_client.get("/admin/lookup", params={"id": " tg_9001 "})).text
    assert "2 matches for tg_9001" in page
    assert f'href="/admin/clients/{ann.id}"' in page
    assert f'href="/admin/card-transactions?client_id={ann.id}"' in page
    assert f'href="/admin/web-users?q={user.id}"' in page
    assert "tg_9001 · Ann" in page

    by_email = (await admin_client.get("/admin/lookup", params={"id": "ANN@example.com"})).text
    assert "1 match for ANN@example.com" in by_email
    assert f'href="/admin/web-users?q={user.id}"' in by_email

    by_card = (await admin_client.get("/admin/lookup", params={"id": str(card.id)})).text
    assert 'data-type="card"' in by_card
    assert f'href="/admin/card-transactions?card_id={card.id}"' in by_card
    assert f'href="/admin/clients/{ann.id}"' in by_card

    by_order = (await admin_client.get("/admin/lookup", params={"id": str(order["id"])})).text
    assert f'href="/admin/orders/{order["id"]}"' in by_order
    by_address = (await admin_client.get("/admin/lookup", params={"id": order["address"]})).text
    assert f'href="/admin/orders/{order["id"]}"' in by_address


# Card transactions


async def test_card_transactions_list_filters_and_pages(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    ann, bob = await make_client(db, "tg_100"), await make_client(db, "tg_200")
    ann_card, bob_card = await create_card(db, ann), await create_card(db, bob, "USD")
    for i in range(26):
        await create_tx(db, ann_card, created_at=DAY + timedelta(minutes=i))
    await create_tx(
        db,
        bob_card,
        status="declined",
        decline_reason="insufficient_funds",
        merchant="Steam Games",
        mcc="5816",
        country="US",
        amount=123456,
        created_at=DAY + timedelta(days=1),
    )

    page = (await admin_client.get("/admin/card-transactions")).text
    assert "27 transactions." in page
    assert "Page 1 of 2" in page
    assert 'class="sd-table"' in page
    assert 'data-label="Merchant"' in page
    first_row = page.index('id="tx-')
    assert page.index("Steam Games") < page.index("Amazon EU", first_row)  # newest first
    assert "1234.56 USD" in page
    assert f'href="/admin/clients/{bob.id}">tg_200</a>' in page
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older
    assert "Page 2 of 2" in (await admin_client.get(unescape(older.group(1)))).text

    async def total(**params: str) -> str:
        response = await admin_client.get("/admin/card-transactions", params=params)
        assert response.status_code == 200, params
        found = re.search(r"(\d+) transactions?\.", response.text)
        return found.group(1) if found else "0"

    assert await total(client_id=str(bob.id)) == "1"
    assert await total(card_id=str(ann_card.id)) == "26"
    assert await total(status="declined") == "1"
    assert await total(decline_reason="insufficient_funds") == "1"
    assert await total(merchant="steam") == "1"
    assert await total(mcc="5311") == "26"
    assert await total(country="us") == "1"
    assert await total(**{"from": "2026-03-11"}) == "1"
    assert await total(to="2026-03-10") == "26"
    assert await total(**{"from": "2026-03-10T12:10:00", "to": "2026-03-10T12:14:00"}) == "5"
    paged = (await admin_client.get(f"/admin/card-transactions?card_id={ann_card.id}")).text
    assert f"card_id={ann_card.id}&amp;page=2" in paged  # filters stay in the pager
    none = (await admin_client.get("/admin/card-transactions?merchant=nobody")).text
    assert "No card transactions match these filters." in none


async def test_card_transactions_bad_filters_are_errors_not_500(
    admin_client: httpx.AsyncClient,
) -> None:
    empty = (await admin_client.get("/admin/card-transactions")).text
    assert "No card transactions yet." in empty
    bad = await admin_client.get(
        "/admin/card-transactions",
        params={
            "client_id": "x",
            "card_id": "y",
            "status": "paid",
            "decline_reason": "bad",
            "mcc": "12",
            "country": "Germany",
            "from": "soon",
            "to": "later",
            "page": "-3",
        },
    )
    assert bad.status_code == 200
    for message in (
        "“Client id” must be a client's id (a UUID).",
        "“Card id” must be a card's id (a UUID).",
        "Unknown status.",
        "Unknown decline reason.",
        "“MCC” must be 4 digits, such as 5411.",
        "“Country” must be 2 letters, such as DE.",
        "“From” must be a date (2026-03-10) or a date and time.",
        "“To” must be a date (2026-03-10) or a date and time.",
    ):
        assert message in bad.text, message
    assert 'value="soon"' in bad.text  # what was typed stays in the form
    backwards = await admin_client.get(
        "/admin/card-transactions", params={"from": "2026-03-12", "to": "2026-03-10"}
    )
    assert backwards.status_code == 200
    assert "“From” must not be after “To”." in backwards.text


# Web users


async def test_web_users_list_search_pages_and_empty_state(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    assert "No web sign-ups yet." in (await admin_client.get("/admin/web-users")).text
    for i in range(26):
        await make_web_user(db, f"user{i:02d}@example.com", created_at_offset=i)
    linked = await make_web_user(
        db, "linked@example.com", external_user_id="tg_77", created_at_offset=100
    )
    await make_web_user(db, "wait@example.com", status="pending", verified=False)

    page = (await admin_client.get("/admin/web-users")).text
    assert "28 web users." in page
    assert "Page 1 of 2" in page
    assert page.index("linked@example.com") < page.index("user25@example.com")  # newest first
    assert "<code>tg_77</code>" in page
    assert f'href="/admin/clients/{linked.client_id}"' in page
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older
    assert "Page 2 of 2" in (await admin_client.get(unescape(older.group(1)))).text

    found = (await admin_client.get("/admin/web-users", params={"q": "LINKED@"})).text
    assert "1 web user." in found
    assert 'href="/admin/web-users.csv?q=LINKED%40"' in found
    by_id = (await admin_client.get("/admin/web-users", params={"q": str(linked.id)})).text
    assert "1 web user." in by_id
    pending = (await admin_client.get("/admin/web-users", params={"status": "pending"})).text
    assert "1 web user." in pending
    assert "(not verified)" in pending
    bad = await admin_client.get("/admin/web-users", params={"status": "gone"})
    assert bad.status_code == 200
    assert "Unknown status." in bad.text
    none = (await admin_client.get("/admin/web-users", params={"q": "nobody"})).text
    assert "No web users match." in none


async def test_web_users_csv_export_with_the_filter(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    await make_web_user(db, "=cmd@example.com", external_user_id="tg_5")
    await make_web_user(db, "other@example.com")
    response = await admin_client.get("/admin/web-users.csv", params={"q": "cmd"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "id",
        "email",
        "status",
        "external_user_id",
        "client_id",
        "email_verified_at",
        "created_at",
        "last_login_at",
    ]
    assert len(rows) == 2
    assert rows[1][1] == "'=cmd@example.com"  # a formula is defused
    assert rows[1][3] == "tg_5"
    everyone = await admin_client.get("/admin/web-users.csv")
    assert len(list(csv.reader(io.StringIO(everyone.text)))) == 3


async def test_link_and_unlink_a_login(admin_client: httpx.AsyncClient, db: Database) -> None:
    user = await make_web_user(db, "link@example.com")
    await make_client(db, "tg_4242")
    form = f"/admin/web-users/{user.id}/link"

    bad = await post_form(admin_client, form, form, {"external_user_id": "bob"})
    assert bad.status_code == 400
    assert "Enter the bot client's id" in bad.text
    assert 'value="bob"' in bad.text
    unknown = await post_form(admin_client, form, form, {"external_user_id": "tg_1"})
    assert unknown.status_code == 404
    assert "No bot client has this id." in unknown.text
    assert await audit_of(db, "web_user.update") == []

    done = await post_form(admin_client, form, form, {"external_user_id": "tg_4242"})
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/web-users?q=link%40example.com&done=linked"
    shown = (await admin_client.get(done.headers["location"])).text
    assert "The login is linked to the client." in shown
    assert "<code>tg_4242</code>" in shown
    [row] = await audit_of(db, "web_user.update")
    assert row.target_id == str(user.id)
    assert row.details["after"] == {"external_user_id": "tg_4242"}
    assert row.operator_id is not None

    confirm = await admin_client.get(f"/admin/web-users/{user.id}/unlink")
    assert confirm.status_code == 200
    assert "Unlink link@example.com from tg_4242?" in confirm.text
    token = await csrf_for(admin_client, f"/admin/web-users/{user.id}/unlink")
    gone = await admin_client.post(f"/admin/web-users/{user.id}/unlink", data={"csrf_token": token})
    assert gone.status_code == 303
    assert gone.headers["location"].endswith("done=unlinked")
    rows = await audit_of(db, "web_user.update")
    assert rows[-1].details == {
        "before": {"external_user_id": "tg_4242"},
        "after": {"external_user_id": None},
    }


async def test_disable_enable_and_delete_through_confirm_pages(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    user = await make_web_user(db, "dana@example.com")
    async with db.transaction() as s:
        s.add(WebUserSession(web_user_id=user.id, expires_at=utcnow() + timedelta(days=1)))

    confirm = await admin_client.get(f"/admin/web-users/{user.id}/disable")
    assert confirm.status_code == 200
    assert "Disable dana@example.com?" in confirm.text
    assert 'id="confirm"' in confirm.text
    path = f"/admin/web-users/{user.id}/disable"
    done = await post_form(admin_client, path, path)
    assert done.status_code == 303
    assert (
        "The login is disabled and signed out."
        in (await admin_client.get(done.headers["location"])).text
    )
    async with db.transaction() as s:
        assert (await s.get(WebUser, user.id)).status == "disabled"  # type: ignore[union-attr]
        session_row = await s.scalar(
            select(WebUserSession).where(WebUserSession.web_user_id == user.id)
        )
        assert session_row is not None
        assert session_row.revoked_at is not None
    [row] = await audit_of(db, "web_user.update")
    assert row.details == {"before": {"status": "active"}, "after": {"status": "disabled"}}

    listed = await admin_client.get("/admin/web-users")
    enable = f"/admin/web-users/{user.id}/enable"
    assert f'action="{enable}"' in listed.text
    again = await post_form(admin_client, "/admin/web-users", enable)
    assert again.status_code == 303
    assert again.headers["location"].endswith("done=enabled")
    assert len(await audit_of(db, "web_user.update")) == 2

    delete = f"/admin/web-users/{user.id}/delete"
    confirm = await admin_client.get(delete)
    assert "Delete dana@example.com?" in confirm.text
    removed = await post_form(admin_client, delete, delete)
    assert removed.status_code == 303
    assert removed.headers["location"] == "/admin/web-users?done=deleted"
    assert (
        "its client and ledger stay" in (await admin_client.get(removed.headers["location"])).text
    )
    async with db.transaction() as s:
        assert await s.get(WebUser, user.id) is None
    [deleted] = await audit_of(db, "web_user.delete")
    assert deleted.target_id == str(user.id)
    assert deleted.details["email"] == "dana@example.com"
    # Gone: its pages answer the console's 404.
    missing = await admin_client.get(delete)
    assert missing.status_code == 404
    assert "does not exist" in missing.text


async def test_enable_before_verification_is_refused_in_plain_words(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    user = await make_web_user(db, "new@example.com", status="disabled", verified=False)
    listed = (await admin_client.get("/admin/web-users")).text
    assert f"/admin/web-users/{user.id}/enable" not in listed  # not offered
    enable = f"/admin/web-users/{user.id}/enable"
    refused = await post_form(admin_client, "/admin/web-users", enable)
    assert refused.status_code == 409
    assert "before its email is verified" in refused.text
    assert await audit_of(db, "web_user.update") == []


async def test_actions_refuse_a_missing_csrf_token(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    user = await make_web_user(db, "safe@example.com", external_user_id="tg_1")
    await make_client(db, "tg_2")
    before = await count_audit(db)
    for action in ("link", "unlink", "disable", "enable", "delete"):
        for data in ({"external_user_id": "tg_2"}, {"csrf_token": "forged"}):
            response = await admin_client.post(f"/admin/web-users/{user.id}/{action}", data=data)
            assert response.status_code == 403, action
            assert "did not come from this console" in response.text
    assert await count_audit(db) == before
    async with db.transaction() as s:
        same = await s.get(WebUser, user.id)
        assert same is not None
        assert (same.status, same.external_user_id) == ("active", "tg_1")


# The phone layout, in a real browser


@needs_chromium
async def test_pages_read_at_phone_width_without_sideways_scrolling(
    live_server: str,  # noqa: F811 - the browser tests' fixtures
    browser: Browser,  # noqa: F811
    db: Database,
) -> None:
    op = await create_operator(db, "phone@example.com")
    ann = await make_client(db, "tg_31337", display_name="Ann")
    card = await create_card(db, ann)
    for i in range(3):
        await create_tx(
            db,
            card,
            merchant="A very long merchant name that goes on and on " * 2,
            status="declined" if i == 0 else "settled",
            decline_reason="insufficient_funds" if i == 0 else None,
            three_ds=True,
            merchant_currency="USD",
            merchant_amount=1100,
            created_at=DAY + timedelta(minutes=i),
        )
    user = await make_web_user(
        db, "a.rather.long.address.for.a.phone@example.com", external_user_id="tg_31337"
    )
    async with httpx.AsyncClient(base_url=live_server) as http:
        await sign_in(http, op)
        token = http.cookies[COOKIE_NAME]
    context = await browser.new_context(viewport=PHONE)
    try:
        await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": live_server}])
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for path in (
            "/admin/lookup?id=tg_31337",
            "/admin/card-transactions",
            "/admin/card-transactions?mcc=12",
            "/admin/web-users",
            f"/admin/web-users/{user.id}/link",
            f"/admin/web-users/{user.id}/delete",
        ):
            await page.goto(f"{live_server}{path}")
            width = await page.evaluate("document.documentElement.scrollWidth")
            wide = await page.evaluate(
                "[...document.querySelectorAll('main *')]"
                ".filter(e => e.getBoundingClientRect().right > 391)"
                ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
            )
            assert width <= PHONE["width"], (path, width, wide)
        assert errors == []
    finally:
        await context.close()
