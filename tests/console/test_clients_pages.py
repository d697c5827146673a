"""Client admin in the console: the list (search, filters, pages) and the client page with the
seed's blocks in order, and every action over HTTP: roles, CSRF, audit rows, plain errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy import select

from paywarden.config import Settings
from paywarden.console.i18n import LANGUAGE_COOKIE
from paywarden.issuer.base import IssuerError
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, Card, Client, WebUser
from paywarden.wallets import service as wallets
from tests.cards.conftest import FakeIssuer, card_rows, make_holder
from tests.client_admin.bot_notifications import block_bot, told
from tests.client_admin.test_client_admin import make_client, make_plan
from tests.conftest import client_for, start_app
from tests.console.helpers import csrf_for, post_form
from tests.e2e.conftest import PHONE, browser, live_server, needs_chromium  # noqa: F401 - fixtures
from tests.factories import create_operator, sign_in


@pytest.fixture
def issuer(app: FastAPI) -> Iterator[FakeIssuer]:
    previous = getattr(app.state, "issuer", None)
    fake = FakeIssuer()
    app.state.issuer = fake
    yield fake
    app.state.issuer = previous


@pytest.fixture
async def super_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(app.state.db, "money@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.created_at)
        )
        return list(rows)


async def load(db: Database, client_id: uuid.UUID) -> Client:
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        return client


async def balances(db: Database, client_id: uuid.UUID) -> dict[str, int]:
    async with db.transaction() as session:
        return {c: b.balance for c, b in (await wallets.balances(session, client_id)).items()}


def page_of(client_id: uuid.UUID) -> str:
    return f"/admin/clients/{client_id}"


# ---- the list ------------------------------------------------------------------------------


async def test_list_empty_state_and_menu(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/admin/clients")
    assert response.status_code == 200
    assert 'id="no-clients"' in response.text
    assert "No clients yet." in response.text
    assert 'href="/admin/clients" aria-current="page"' in response.text


async def test_list_searches_filters_and_links(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    gold = await make_plan(db, "Gold", hidden_from_home=True)
    ann = await make_client(db, "tg_1001", username="ann_cards", display_name="Ann")
    bob = await make_client(db, "tg_1002", username="bob", plan_id=gold.id, status="banned")
    web = await make_client(db, "web_abc")
    async with db.transaction() as session:
        session.add(WebUser(email="bob@example.com", password_hash="x", external_user_id="tg_1002"))
        session.add(WebUser(email="web@example.com", password_hash="x", client_id=web.id))

    async def found(**params: str) -> list[str]:
        r = await admin_client.get("/admin/clients", params=params)
        assert r.status_code == 200, r.text
        return re.findall(r'class="client-link"><code>([^<]+)</code>', r.text)

    page = await admin_client.get("/admin/clients")
    assert f'href="/admin/clients/{bob.id}"' in page.text
    assert "bob@example.com" in page.text
    assert "Gold" in page.text
    assert await found() == ["web_abc", "tg_1002", "tg_1001"]
    assert await found(q="tg_1001") == ["tg_1001"]
    assert await found(q="ANN_C") == ["tg_1001"]
    assert await found(q="bob@EXAMPLE") == ["tg_1002"]
    assert await found(q=str(ann.id)) == ["tg_1001"]
    assert await found(status="banned") == ["tg_1002"]
    assert await found(banned="yes") == ["tg_1002"]
    assert await found(banned="no") == ["web_abc", "tg_1001"]
    assert await found(plan=str(gold.id)) == ["tg_1002"]
    nothing = await admin_client.get("/admin/clients", params={"q": "zzz"})
    assert "No client matches." in nothing.text
    for bad in ({"status": "nope"}, {"plan": "x"}, {"banned": "maybe"}, {"page": "zero"}):
        r = await admin_client.get("/admin/clients", params=bad)
        assert r.status_code == 200, bad  # a bad filter is said, never a 500
    assert 'role="alert"' in (await admin_client.get("/admin/clients?status=nope")).text


async def test_list_paginates(admin_client: httpx.AsyncClient, db: Database) -> None:
    for i in range(27):
        await make_client(db, f"tg_{2000 + i}")
    first = await admin_client.get("/admin/clients")
    assert first.text.count('class="client-link"') == 25
    assert "Page 1 of 2" in first.text
    assert 'id="next-page"' in first.text
    second = await admin_client.get("/admin/clients?page=2")
    assert second.text.count('class="client-link"') == 2
    assert 'id="prev-page"' in second.text


# ---- the client page -----------------------------------------------------------------------

BLOCKS = [
    "client",
    "tariff",
    "subscription",
    "issue",
    "access",
    "demo",
    "topup",
    "balances",
    "lifetime",
    "activity",
    "cards-overview",
    "risk",
    "latest-topup",
    "latest-transaction",
    "notes",
    "cards",
    "topups",
    "transactions",
    "notifications",
]


async def test_client_page_has_the_seeds_blocks_in_order(
    super_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    c = await make_client(db, "tg_3001", username="carol", display_name="Carol")
    response = await super_client.get(page_of(c.id))
    assert response.status_code == 200
    page = response.text
    positions = [page.find(f'<section class="panel" id="{b}">') for b in BLOCKS]
    assert all(p > 0 for p in positions), dict(zip(BLOCKS, positions, strict=True))
    assert positions == sorted(positions)
    assert "tg_3001" in page
    assert "@carol" in page
    assert "No cards yet. Issue one above." in page
    assert 'id="quick-1"' in page


async def test_client_page_for_an_operator_hides_money_forms(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_3002")
    page = (await admin_client.get(page_of(c.id))).text
    assert 'id="topup-form"' not in page
    assert 'id="balance-form"' not in page
    assert "only a super admin makes them" in page


def notifications_text(page: str) -> str:
    start = page.index('<section class="panel" id="notifications">')
    section = page[start : page.index("</section>", start)]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


async def test_client_page_shows_what_the_bot_told_the_client(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_3010", low_balance_threshold=2500)
    base = utcnow() - timedelta(hours=1)
    await told(db, c.id, "code_3ds", "sent", created_at=base, deleted=True)
    await told(
        db,
        c.id,
        "card_declined",
        "failed",
        created_at=base + timedelta(minutes=1),
        attempts=10,
        last_error="502 Bad Gateway " + "x" * 200,
    )
    await told(db, c.id, "topup_credited", "pending", created_at=base + timedelta(minutes=2))
    await told(db, c.id, "low_balance", "skipped", created_at=base + timedelta(minutes=3))

    page = (await admin_client.get(page_of(c.id))).text
    text = notifications_text(page)
    assert "Telegram notifications" in text
    assert "can reach the client" in text
    assert 'id="bot-blocked"' not in page
    assert "Low-balance alert below 25.00 (EUR or USD wallet)" in text
    rows = re.findall(r'<tr id="notification-[^"]+">(.*?)</tr>', page, re.DOTALL)
    cells = [
        [re.sub(r"<[^>]+>|\s+", " ", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", r)]
        for r in rows
    ]
    # Newest first: kind in words, status, attempts.
    assert [(c[1], c[2].split()[0], c[3]) for c in cells] == [
        ("Low balance", "skipped", "1"),
        ("Top-up credited", "pending", "1"),
        ("Payment declined", "failed", "10"),
        ("3-D Secure code", "sent", "1"),
    ]
    assert '<span class="badge bad notification-status">failed</span>' in rows[2]
    assert '<span class="badge ok notification-status">sent</span>' in rows[3]
    assert [("message deleted" in r) for r in rows] == [False, False, False, True]
    assert cells[2][4] == "—"  # never sent
    assert cells[3][4] != "—"
    assert cells[2][5].startswith("502 Bad Gateway")
    assert len(cells[2][5]) <= 80  # the error is cut short; the whole in its title

    await block_bot(db, c.id)
    page = (await admin_client.get(page_of(c.id))).text
    assert 'id="bot-blocked"' in page
    assert "blocked the bot" in notifications_text(page)


async def test_notifications_block_without_any_and_in_russian(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    web = await make_client(db, "web_quiet")
    text = notifications_text((await admin_client.get(page_of(web.id))).text)
    assert "No notifications yet." in text
    assert "no Telegram chat" in text
    assert "Low-balance alert off" in text

    c = await make_client(db, "tg_3011")
    await told(db, c.id, "card_declined", "blocked", created_at=utcnow())
    admin_client.cookies.set(LANGUAGE_COOKIE, "ru")
    try:
        page = (await admin_client.get(page_of(c.id))).text
    finally:
        admin_client.cookies.delete(LANGUAGE_COOKIE)
    assert 'lang="ru"' in page
    assert 'id="notification-list"' in page


async def test_unknown_client_is_a_404_page(admin_client: httpx.AsyncClient) -> None:
    for path in (f"/admin/clients/{uuid.uuid4()}", "/admin/clients/not-an-id"):
        response = await admin_client.get(path)
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]


async def test_cards_off_hides_card_actions(
    app: FastAPI, admin_client: httpx.AsyncClient, db: Database
) -> None:
    previous = app.state.issuer
    app.state.issuer = None
    try:
        c = await make_client(db, "tg_3003")
        page = await admin_client.get(page_of(c.id))
        assert 'id="cards-off"' in page.text
        assert 'id="issue-form"' not in page.text
        response = await post_form(
            admin_client,
            page_of(c.id),
            f"{page_of(c.id)}/cards",
            {"currency": "EUR", "monthly_limit": "100"},
        )
        assert response.status_code == 503
        assert "Cards are not available" in response.text
    finally:
        app.state.issuer = previous


# ---- tariff, access, ban, notes ------------------------------------------------------------


async def test_change_tariff_to_a_hidden_plan(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_4001")
    hidden = await make_plan(db, "Secret", hidden_from_home=True, monthly_fee=0)
    await make_plan(db, "Old", archived=True)
    page = (await admin_client.get(page_of(c.id))).text
    assert "Secret (hidden from home)" in page
    assert ">Old<" not in page  # archived plans cannot be assigned
    response = await post_form(
        admin_client,
        page_of(c.id),
        f"{page_of(c.id)}/plan",
        {"plan_id": str(hidden.id), "notes": "VIP deal"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{page_of(c.id)}?done=plan#tariff"
    after = await admin_client.get(response.headers["location"])
    assert "The tariff is saved." in after.text
    assert "VIP deal" in after.text
    client = await load(db, c.id)
    assert (client.plan_id, client.tariff_notes) == (hidden.id, "VIP deal")
    rows = await audit_rows(db, "client.plan_assign")
    assert len(rows) == 1
    assert rows[0].actor == "admin-client@example.com"

    missing = await post_form(admin_client, page_of(c.id), f"{page_of(c.id)}/plan", {})
    assert missing.status_code == 400
    assert "Pick a plan." in missing.text
    gone = await post_form(
        admin_client, page_of(c.id), f"{page_of(c.id)}/plan", {"plan_id": str(uuid.uuid4())}
    )
    assert gone.status_code == 303
    assert "does not exist any more" in (await admin_client.get(gone.headers["location"])).text


async def test_access_and_limits(admin_client: httpx.AsyncClient, db: Database) -> None:
    c = await make_client(db, "tg_4002")
    url = f"{page_of(c.id)}/access"
    response = await post_form(admin_client, page_of(c.id), url, {"max_active_cards": "2"})
    assert response.status_code == 303
    client = await load(db, c.id)
    assert (client.can_create_cards, client.max_active_cards) == (False, 2)
    [row] = await audit_rows(db, "client.update")
    assert row.details["after"] == {"can_create_cards": False, "max_active_cards": 2}

    bad = await post_form(
        admin_client, page_of(c.id), url, {"can_create_cards": "on", "max_active_cards": "-1"}
    )
    assert bad.status_code == 400
    assert "Max active cards must be a whole number" in bad.text
    assert (await load(db, c.id)).can_create_cards is False  # nothing saved

    same = await post_form(admin_client, page_of(c.id), url, {"max_active_cards": "2"})
    assert same.headers["location"].endswith("done=unchanged#access")
    assert len(await audit_rows(db, "client.update")) == 1


async def test_ban_is_confirmed_then_lifted(admin_client: httpx.AsyncClient, db: Database) -> None:
    c = await make_client(db, "tg_4003", display_name="Dave")
    page = (await admin_client.get(page_of(c.id))).text
    assert f'href="{page_of(c.id)}/ban"' in page
    confirm = await admin_client.get(f"{page_of(c.id)}/ban")
    assert confirm.status_code == 200
    assert "Ban Dave?" in confirm.text
    assert (await load(db, c.id)).status == "active"  # the confirm page changes nothing
    response = await post_form(admin_client, f"{page_of(c.id)}/ban", f"{page_of(c.id)}/ban")
    assert response.status_code == 303
    assert (await load(db, c.id)).status == "banned"
    after = (await admin_client.get(response.headers["location"])).text
    assert 'id="client-status">banned' in after
    assert 'id="unban"' in after
    lifted = await post_form(admin_client, page_of(c.id), f"{page_of(c.id)}/unban")
    assert lifted.status_code == 303
    assert (await load(db, c.id)).status == "active"
    rows = await audit_rows(db, "client.update")
    assert [r.details["after"] for r in rows] == [{"status": "banned"}, {"status": "active"}]


async def test_notes_and_support_owner(admin_client: httpx.AsyncClient, db: Database) -> None:
    c = await make_client(db, "tg_4004")
    owner = await create_operator(db, "owner@example.com")
    response = await post_form(
        admin_client,
        page_of(c.id),
        f"{page_of(c.id)}/notes",
        {"internal_note": "Asked for a refund", "support_owner_id": str(owner.operator.id)},
    )
    assert response.status_code == 303
    client = await load(db, c.id)
    assert client.internal_note == "Asked for a refund"
    assert client.support_owner_id == owner.operator.id
    page = (await admin_client.get(page_of(c.id))).text
    assert "client.update" in page  # the last admin action
    assert f'<option value="{owner.operator.id}" selected>' in page


# ---- cards ---------------------------------------------------------------------------------


async def test_issue_freeze_unfreeze_limit_and_close(
    admin_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=10_000)
    home = page_of(holder.id)
    issued = await post_form(
        admin_client,
        home,
        f"{home}/cards",
        {"currency": "EUR", "monthly_limit": "250.00", "label": "travel"},
    )
    assert issued.status_code == 303, issued.text
    assert issued.headers["location"] == f"{home}?done=issued#cards"
    [card] = await card_rows(db, holder.id)
    assert (card.currency, card.monthly_limit, card.label) == ("EUR", 25_000, "travel")
    page = (await admin_client.get(issued.headers["location"])).text
    assert "The card is issued." in page
    assert f'id="card-{card.id}"' in page

    base = f"{home}/cards/{card.id}"
    assert (await post_form(admin_client, home, f"{base}/freeze")).status_code == 303
    assert (await card_rows(db, holder.id))[0].status == "frozen"
    assert (await post_form(admin_client, home, f"{base}/unfreeze")).status_code == 303
    assert (await card_rows(db, holder.id))[0].status == "active"
    limit = await post_form(admin_client, home, f"{base}/limit", {"monthly_limit": "300"})
    assert limit.status_code == 303
    assert (await card_rows(db, holder.id))[0].monthly_limit == 30_000
    bad = await post_form(admin_client, home, f"{base}/limit", {"monthly_limit": "0"})
    assert bad.status_code == 400
    assert "The monthly limit must be above 0" in bad.text

    confirm = await admin_client.get(f"{base}/close")
    assert confirm.status_code == 200
    assert "Closing is final" in confirm.text
    assert (await card_rows(db, holder.id))[0].status == "active"
    closed = await post_form(admin_client, f"{base}/close", f"{base}/close")
    assert closed.status_code == 303
    assert (await card_rows(db, holder.id))[0].status == "closed"
    again = await post_form(admin_client, home, f"{base}/freeze")
    assert (
        "A closed card cannot be changed."
        in (await admin_client.get(again.headers["location"])).text
    )

    actions = ["card.issue", "card.freeze", "card.unfreeze", "card.limit_change", "card.close"]
    for action in actions:
        rows = await audit_rows(db, action)
        assert len(rows) == 1, action
        assert rows[0].actor == "admin-client@example.com"
        assert rows[0].target_id == str(holder.id)


async def test_card_refusals_in_plain_words(
    admin_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=0, cards_included=0, card_issue_fee=500)
    home = page_of(holder.id)
    poor = await post_form(
        admin_client, home, f"{home}/cards", {"currency": "EUR", "monthly_limit": "100"}
    )
    assert poor.status_code == 303
    shown = (await admin_client.get(poor.headers["location"])).text
    assert "Not enough money in the EUR or USD wallet" in shown
    assert issuer.made() == 0

    rich = await make_holder(db, eur=10_000)
    home = page_of(rich.id)
    issuer.fail["create_card"] = [IssuerError("declined by the bank", retryable=False)]
    refused = await post_form(
        admin_client, home, f"{home}/cards", {"currency": "EUR", "monthly_limit": "100"}
    )
    assert refused.status_code == 303
    assert (
        "The card issuer refused the request."
        in (await admin_client.get(refused.headers["location"])).text
    )
    assert await card_rows(db, rich.id) == []
    assert await audit_rows(db, "card.issue") == []

    bad = await post_form(
        admin_client, home, f"{home}/cards", {"currency": "GBP", "monthly_limit": "100"}
    )
    assert bad.status_code == 400
    assert "Pick the card's currency" in bad.text
    bad = await post_form(
        admin_client, home, f"{home}/cards", {"currency": "EUR", "monthly_limit": "abc"}
    )
    assert bad.status_code == 400
    assert "The monthly limit must be above 0" in bad.text


async def test_another_clients_card_is_not_found(
    admin_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    owner = await make_holder(db, eur=10_000)
    other = await make_client(db, "tg_7777")
    await post_form(
        admin_client,
        page_of(owner.id),
        f"{page_of(owner.id)}/cards",
        {"currency": "EUR", "monthly_limit": "100"},
    )
    [card] = await card_rows(db, owner.id)
    wrong = await post_form(
        admin_client, page_of(other.id), f"{page_of(other.id)}/cards/{card.id}/freeze"
    )
    assert wrong.status_code == 404
    assert (await admin_client.get(f"{page_of(other.id)}/cards/{card.id}/close")).status_code == 404
    async with db.transaction() as session:
        assert (await session.get(Card, card.id)).status == "active"  # type: ignore[union-attr]


# ---- money ---------------------------------------------------------------------------------


async def test_top_up_by_a_super_admin_once_per_form(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_5001")
    home = page_of(c.id)
    page = (await super_client.get(home)).text
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key
    form = {"currency": "EUR", "amount": "12.50", "note": "goodwill", "key": key.group(1)}
    token = await csrf_for(super_client, home)
    first = await super_client.post(f"{home}/topup", data={"csrf_token": token, **form})
    assert first.status_code == 303
    assert first.headers["location"] == f"{home}?done=topup#balances"
    again = await super_client.post(f"{home}/topup", data={"csrf_token": token, **form})
    assert again.status_code == 303  # the same form twice: one credit
    assert (await balances(db, c.id))["EUR"] == 1250
    shown = (await super_client.get(first.headers["location"])).text
    assert "The wallet is topped up." in shown
    assert 'id="balance-EUR">12.50 EUR' in shown

    quick = await post_form(
        super_client,
        home,
        f"{home}/topup",
        {"currency": "USD", "amount": "50.00", "note": "quick top-up", "key": "quick-x"},
    )
    assert quick.status_code == 303
    assert (await balances(db, c.id))["USD"] == 5000
    rows = await audit_rows(db, "ledger.adjustment")
    assert len(rows) == 2
    assert all(r.actor == "money@example.com" for r in rows)

    for data, words in (
        ({"currency": "EUR", "amount": "-1", "note": "x"}, "The amount must be above 0"),
        ({"currency": "EUR", "amount": "1.234", "note": "x"}, "The amount must be above 0"),
        ({"currency": "EUR", "amount": "1", "note": ""}, "Write a note"),
        ({"currency": "GBP", "amount": "1", "note": "x"}, "Pick the wallet"),
    ):
        bad = await post_form(super_client, home, f"{home}/topup", data)
        assert bad.status_code == 400, data
        assert words in bad.text
    assert len(await audit_rows(db, "ledger.adjustment")) == 2


async def test_an_operator_may_not_move_money(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    c = await make_client(db, "tg_5002")
    home = page_of(c.id)
    for action in ("topup", "balance"):
        response = await post_form(
            admin_client, home, f"{home}/{action}", {"currency": "EUR", "amount": "5", "note": "n"}
        )
        assert response.status_code == 403
        assert "Not allowed" in response.text
    assert (await balances(db, c.id))["EUR"] == 0


async def test_demo_balance_in_development(super_client: httpx.AsyncClient, db: Database) -> None:
    c = await make_client(db, "tg_5003")
    home = page_of(c.id)
    response = await post_form(
        super_client, home, f"{home}/balance", {"currency": "USD", "amount": "100"}
    )
    assert response.status_code == 303
    assert (await balances(db, c.id))["USD"] == 10_000
    [row] = await audit_rows(db, "client.demo_balance")
    assert row.actor == "money@example.com"
    bad = await post_form(super_client, home, f"{home}/balance", {"currency": "USD", "amount": "x"})
    assert bad.status_code == 400
    assert "The balance must be 0 or more" in bad.text


async def test_demo_balance_is_hidden_and_refused_in_production(
    make_settings: Callable[..., Settings],
) -> None:
    app, lifespan = await start_app(make_settings(env="production"))
    try:
        db = app.state.db
        c = await make_client(db, "tg_5004")
        op = await create_operator(db, "prod@example.com", role="super_admin")
        async with client_for(app, https=True) as http:
            await sign_in(http, op)
            home = page_of(c.id)
            page = await http.get(home)
            assert page.status_code == 200
            assert 'id="balance-form"' not in page.text
            assert 'id="topup-form"' in page.text
            assert 'id="cards-off"' in page.text  # production tests run without an issuer
            response = await post_form(
                http, home, f"{home}/balance", {"currency": "EUR", "amount": "10"}
            )
            assert response.status_code == 303
            shown = await http.get(response.headers["location"])
            assert "Demo balances cannot be set in production." in shown.text
        assert await audit_rows(db, "client.demo_balance") == []
    finally:
        await lifespan.__aexit__(None, None, None)


# ---- CSRF ----------------------------------------------------------------------------------


async def test_every_action_refuses_a_missing_token(
    super_client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=10_000)
    home = page_of(holder.id)
    await post_form(super_client, home, f"{home}/cards", {"currency": "EUR", "monthly_limit": "5"})
    [card] = await card_rows(db, holder.id)
    before = len(await audit_rows(db, "card.issue"))
    data: dict[str, Any] = {"currency": "EUR", "amount": "5", "note": "n", "monthly_limit": "9"}
    for action in (
        "plan",
        "access",
        "ban",
        "unban",
        "notes",
        "topup",
        "balance",
        "cards",
        f"cards/{card.id}/freeze",
        f"cards/{card.id}/unfreeze",
        f"cards/{card.id}/close",
        f"cards/{card.id}/limit",
    ):
        response = await super_client.post(f"{home}/{action}", data=data)
        assert response.status_code == 403, action
        assert "did not come from this console" in response.text
    assert (await card_rows(db, holder.id))[0].status == "active"
    assert len(await audit_rows(db, "card.issue")) == before
    assert (await load(db, holder.id)).status == "active"


# ---- in a browser: phone and desktop -------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize("viewport", [PHONE, {"width": 1440, "height": 900}])
async def test_client_pages_fit_a_phone_and_a_desktop(
    live_server: str,  # noqa: F811 - the e2e fixture
    browser: Browser,  # noqa: F811 - the e2e fixture
    db: Database,
    issuer: FakeIssuer,
    viewport: dict[str, int],
) -> None:
    op = await create_operator(db, "shots@example.com", role="super_admin")
    holder = await make_holder(db, eur=10_000)
    # A Telegram client told of a decline the bot could not send: its error is one long word.
    told_client = await make_client(db, "tg_3099")
    await told(
        db, told_client.id, "card_declined", "failed", created_at=utcnow(), last_error="x" * 300
    )
    async with httpx.AsyncClient(base_url=live_server) as http:
        await sign_in(http, op)
        await post_form(
            http,
            page_of(holder.id),
            f"{page_of(holder.id)}/cards",
            {"currency": "EUR", "monthly_limit": "250", "label": "a rather long card label"},
        )
        cookies = [
            {"name": name, "value": value, "url": live_server}
            for name, value in http.cookies.items()
        ]
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        await context.add_cookies(cookies)  # type: ignore[arg-type]
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        width = viewport["width"]

        await page.goto(f"{live_server}/admin/clients")
        await expect(page.locator("h1")).to_have_text("Clients")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        await page.fill("#f-q", holder.external_user_id)
        await page.click("#apply-filters")
        # The filter form is a full GET: wait for its page, or the click below may land on the
        # list being replaced and the navigation it starts be cancelled.
        await expect(page).to_have_url(re.compile(r"[?&]q=web_"))
        await page.click(".client-link")
        await expect(page.locator("#client h2")).to_have_text("Client")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width

        await page.click("#card-list .freeze")
        await expect(page.locator("#notice")).to_have_text("The card is frozen.")
        await page.click("#ban")
        await page.click("#confirm")
        await expect(page.locator("#client-status")).to_have_text("banned")
        await page.click("#quick-2")
        await expect(page.locator("#notice")).to_have_text("The wallet is topped up.")

        await page.goto(f"{live_server}{page_of(told_client.id)}")
        await expect(page.locator("#notification-list .notification-status")).to_have_text("failed")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        assert errors == []
    finally:
        await context.close()
