"""The profile tab: the plan and its terms, changing plan (the home catalog only, the fee shown
before paying, paid once), support, the app's language, signing out; with a Telegram session
and a web session, on both databases."""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.audit.context import Actor
from paywarden.kit.db import Database
from paywarden.models import Card, Client, Plan, Subscription
from paywarden.support import service as support
from paywarden.wallets.fees import usd_for_eur
from tests.banners.conftest import create as create_banner
from tests.clientapp.conftest import MAX_HTML, client_id_of, csrf_in, post_form, telegram_sign_in
from tests.clients.test_auth import ban
from tests.conftest import client_for
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    fund,
    ledger_ok,
    make_plan,
    set_rate,
)

PROFILE = "/app/profile"


async def client_row(db: Database, client_id: uuid.UUID) -> Client:
    async with db.transaction() as session:
        row = await session.get(Client, client_id)
        assert row is not None
        return row


async def subscription(db: Database, client_id: uuid.UUID) -> Subscription:
    async with db.transaction() as session:
        query = select(Subscription).where(Subscription.client_id == client_id)
        row = await session.scalar(query)
        assert row is not None
        return row


async def catalog(db: Database) -> tuple[Plan, Plan, Plan, Plan]:
    """A free default plan, a paid one, one hidden from home and an archived one."""
    basic = await make_plan(
        db,
        "Basic",
        is_default=True,
        monthly_fee=0,
        cards_included=1,
        max_active_cards=2,
        card_issue_fee=500,
        topup_fee_bps=250,
        fx_fee_bps=150,
        bullets="1 card included\n\nTop-up fee 2.5%",
    )
    pro = await make_plan(
        db,
        "Pro",
        monthly_fee=1_999,
        cards_included=5,
        max_active_cards=10,
        card_issue_fee=300,
        topup_fee_bps=150,
        fx_fee_bps=100,
        bullets="5 cards included\nPriority support",
        sort_order=1,
    )
    hidden = await make_plan(db, "Partner VIP", hidden_from_home=True, monthly_fee=100)
    archived = await make_plan(db, "Old Gold", archived=True, monthly_fee=100)
    return basic, pro, hidden, archived


def hidden_fields(html: str) -> dict[str, str]:
    """A form's hidden inputs (the CSRF token, the plan), as a browser posts them."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def preview_rows(html: str) -> dict[str, str]:
    """The confirm page's figures, label -> value, tags stripped."""
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html, re.S)
    return {label: re.sub(r"<[^>]+>", "", value).strip() for label, value in pairs}


async def confirm(http: httpx.AsyncClient, plan_id: uuid.UUID) -> httpx.Response:
    """Open the plan's preview and post its form, as a tap on the confirm button."""
    shown = await http.get(f"{PROFILE}/plan/{plan_id}")
    assert shown.status_code == 200, shown.text
    fields = hidden_fields(shown.text)
    return await http.post(f"{PROFILE}/plan", data=fields)


# The page


async def test_profile_shows_who_the_plan_support_and_the_catalog(
    http: httpx.AsyncClient, db: Database
) -> None:
    basic, pro, hidden, archived = await catalog(db)
    async with db.transaction() as session:
        await support.update(
            session,
            {
                "contact": "@paywarden_help",
                "working_hours": "9-18 UTC",
                "average_reply_time": "~15 minutes",
            },
            Actor(label="ops@example.com"),
        )
    page = await http.get(PROFILE)
    assert page.status_code == 200, page.text
    html = page.text
    assert len(page.content) < MAX_HTML
    assert page.headers["cache-control"] == "no-store"
    client = await client_row(db, await client_id_of(http))
    assert client.external_user_id in html
    # The current plan, its bullets and terms, with currency and percents.
    assert '<strong id="plan-name">Basic</strong>' in html
    assert "<li>1 card included</li>" in html
    assert "<li>Top-up fee 2.5%</li>" in html
    assert "<li></li>" not in html  # blank bullet lines dropped
    assert "0.00 EUR" in html
    assert "5.00 EUR" in html
    assert "2.5 %" in html
    assert "1.5 %" in html
    assert 'id="plan-status">Active<' in html
    assert 'id="period-end"' in html
    # The catalog: home plans only, the current one marked, the others offered.
    assert f'id="offer-{basic.id}" class="current"' in html
    assert f'href="/app/profile/plan/{pro.id}"' in html
    assert "19.99 EUR a month" in html
    assert f'href="/app/profile/plan/{basic.id}"' not in html  # already paid: nothing to buy
    assert "Partner VIP" not in html
    assert str(hidden.id) not in html
    assert "Old Gold" not in html
    assert str(archived.id) not in html
    # Support and signing out.
    assert 'href="https://t.me/paywarden_help"' in html
    assert "9-18 UTC" in html
    assert "~15 minutes" in html
    assert 'href="/app/logout"' in html
    assert 'id="tab-profile" aria-current="page"' in html


async def test_profile_shows_the_tabs_banner(
    tg: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    banner = await create_banner(admin_client, page="profile")
    html = (await tg.get(PROFILE)).text
    assert 'id="banner"' in html
    assert banner["id"] in html


async def test_a_hidden_plan_assigned_by_operators_is_shown_but_never_offered(
    tg: httpx.AsyncClient, db: Database
) -> None:
    _basic, _pro, hidden, _archived = await catalog(db)
    client_id = await client_id_of(tg)
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.plan_id = hidden.id
    html = (await tg.get(PROFILE)).text
    assert '<strong id="plan-name">Partner VIP</strong>' in html
    assert f'href="/app/profile/plan/{hidden.id}"' not in html


async def test_without_a_plan_the_catalog_is_offered(tg: httpx.AsyncClient, db: Database) -> None:
    pro = await make_plan(db, "Pro", monthly_fee=1_999)
    html = (await tg.get(PROFILE)).text
    assert 'id="no-plan"' in html
    assert f'href="/app/profile/plan/{pro.id}"' in html


# Changing plan


async def test_preview_shows_the_fee_and_what_changes_then_pays_it_once(
    http: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 2_500)
    shown = await http.get(f"{PROFILE}/plan/{pro.id}")
    assert shown.status_code == 200, shown.text
    assert len(shown.content) < MAX_HTML
    rows = preview_rows(shown.text)
    assert rows["Plan"] == "Basic → Pro"
    assert rows["Charged now"] == "19.99 EUR from your EUR wallet"
    assert rows["Monthly fee"] == "0.00 EUR → 19.99 EUR"
    assert rows["Cards included"] == "1 → 5"
    assert rows["Open cards at most"] == "2 → 10"
    assert rows["Each card past those"] == "5.00 EUR → 3.00 EUR"
    assert rows["Top-up fee"] == "2.5 % → 1.5 %"
    assert rows["EUR⇄USD conversion fee"] == "1.5 % → 1 %"
    assert "Paid until" in rows
    assert 'name="plan_id" value="' + str(pro.id) in shown.text
    assert "Pay and switch" in shown.text

    fields = hidden_fields(shown.text)
    first = await http.post(f"{PROFILE}/plan", data=fields)
    assert first.status_code == 303
    assert first.headers["location"] == "/app/profile?done=plan"
    again = await http.post(f"{PROFILE}/plan", data=fields)  # a double tap
    assert again.status_code == 303
    assert await balances(db, client_id) == {"EUR": 2_500 - 1_999, "USD": 0}
    assert await count_kind(db, "subscription_fee") == 1
    sub = await subscription(db, client_id)
    assert (sub.plan_id, sub.status, sub.fee_currency) == (pro.id, "active", "EUR")
    assert (await client_row(db, client_id)).plan_id == pro.id
    done = await http.get(first.headers["location"])
    assert "Your plan is now Pro." in done.text
    assert f'id="offer-{pro.id}" class="current"' in done.text
    # The plan now paid: its preview has nothing to confirm.
    current = await http.get(f"{PROFILE}/plan/{pro.id}")
    assert (current.status_code, current.headers["location"]) == (303, PROFILE)
    await ledger_ok(db)


async def test_taps_at_once_on_confirm_pay_once(tg: httpx.AsyncClient, db: Database) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(tg)
    await fund(db, client_id, "EUR", 10_000)
    shown = await tg.get(f"{PROFILE}/plan/{pro.id}")
    fields = hidden_fields(shown.text)
    taps = await asyncio.gather(*(tg.post(f"{PROFILE}/plan", data=fields) for _ in range(3)))
    assert [t.status_code for t in taps] == [303, 303, 303]
    assert await count_kind(db, "subscription_fee") == 1
    assert await balances(db, client_id) == {"EUR": 10_000 - 1_999, "USD": 0}


async def test_with_eur_short_the_preview_shows_the_usd_charge_select_plan_takes(
    http: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    await set_rate(db, 1_085_000)
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 1_000)
    await fund(db, client_id, "USD", 5_000)
    usd = usd_for_eur(1_999, Decimal("1.085"))
    assert usd == 2_169  # 21.68915 rounded up
    shown = await http.get(f"{PROFILE}/plan/{pro.id}")
    rows = preview_rows(shown.text)
    assert rows["Charged now"] == (
        "21.69 USD from your USD wallet (19.99 EUR at 1.0850 USD per EUR)"
    )
    assert (await confirm(http, pro.id)).status_code == 303
    assert await balances(db, client_id) == {"EUR": 1_000, "USD": 5_000 - usd}
    sub = await subscription(db, client_id)
    assert (sub.plan_id, sub.fee_currency) == (pro.id, "USD")


async def test_a_free_plan_switches_without_a_charge(tg: httpx.AsyncClient, db: Database) -> None:
    await catalog(db)
    free = await make_plan(db, "Free two", monthly_fee=0, max_active_cards=0, sort_order=2)
    client_id = await client_id_of(tg)
    shown = await tg.get(f"{PROFILE}/plan/{free.id}")
    rows = preview_rows(shown.text)
    assert rows["Charged now"] == "Nothing: this plan is free"
    assert "Switch plan" in shown.text
    assert (await confirm(tg, free.id)).status_code == 303
    assert (await subscription(db, client_id)).plan_id == free.id
    assert await count_kind(db, "subscription_fee") == 0


async def test_the_preview_warns_when_open_cards_pass_the_new_cap(
    tg: httpx.AsyncClient, db: Database
) -> None:
    await catalog(db)
    tiny = await make_plan(db, "Tiny", monthly_fee=0, cards_included=0, max_active_cards=0)
    await tg.get(PROFILE)  # on the default plan from here
    shown = await tg.get(f"{PROFILE}/plan/{tiny.id}")
    assert preview_rows(shown.text)["Open cards at most"] == "2 → 0"
    assert "cannot issue new ones" not in shown.text  # no open card: nothing over the cap
    client_id = await client_id_of(tg)
    async with db.transaction() as session:
        session.add(
            Card(
                client_id=client_id,
                issuer="test",
                issuer_card_id=uuid.uuid4().hex,
                currency="EUR",
                monthly_limit=50_000,
            )
        )
    shown = await tg.get(f"{PROFILE}/plan/{tiny.id}")
    assert "they keep working, but you cannot issue new ones" in shown.text


@pytest.mark.parametrize("which", ["hidden", "archived"])
async def test_hidden_and_archived_plans_are_never_previewed_nor_selected(
    http: httpx.AsyncClient, db: Database, which: str
) -> None:
    _basic, _pro, hidden, archived = await catalog(db)
    plan = hidden if which == "hidden" else archived
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 5_000)
    shown = await http.get(f"{PROFILE}/plan/{plan.id}")
    assert shown.status_code == 403
    assert "This plan cannot be chosen in the app." in shown.text
    assert 'id="confirm"' not in shown.text
    page = await http.get(PROFILE)
    posted = await http.post(
        f"{PROFILE}/plan", data={"csrf_token": csrf_in(page.text), "plan_id": str(plan.id)}
    )
    assert posted.status_code == 403
    assert "This plan cannot be chosen in the app." in posted.text
    assert await balances(db, client_id) == {"EUR": 5_000, "USD": 0}
    assert (await client_row(db, client_id)).plan_id != plan.id


async def test_an_unknown_plan_is_404(http: httpx.AsyncClient, db: Database) -> None:
    await catalog(db)
    for path in (f"{PROFILE}/plan/{uuid.uuid4()}", f"{PROFILE}/plan/not-a-plan"):
        shown = await http.get(path)
        assert shown.status_code == 404
        assert "We could not find this plan." in shown.text
    page = await http.get(PROFILE)
    posted = await http.post(
        f"{PROFILE}/plan", data={"csrf_token": csrf_in(page.text), "plan_id": str(uuid.uuid4())}
    )
    assert posted.status_code == 404


async def test_refusals_in_plain_words_and_nothing_charged(
    http: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 1_000)
    short = await http.get(f"{PROFILE}/plan/{pro.id}")
    assert short.status_code == 402
    assert "Your wallets cannot pay this plan" in short.text
    # Only USD could pay and no rate is set.
    await fund(db, client_id, "USD", 5_000)
    no_rate = await http.get(f"{PROFILE}/plan/{pro.id}")
    assert no_rate.status_code == 409
    assert "Euro and dollar cannot be exchanged right now." in no_rate.text
    page = await http.get(PROFILE)
    posted = await http.post(
        f"{PROFILE}/plan", data={"csrf_token": csrf_in(page.text), "plan_id": str(pro.id)}
    )
    assert posted.status_code == 409
    assert await balances(db, client_id) == {"EUR": 1_000, "USD": 5_000}
    assert await count_kind(db, "subscription_fee") == 0


async def test_money_spent_between_preview_and_confirm_is_refused(
    tg: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(tg)
    await fund(db, client_id, "EUR", 1_000)
    page = await tg.get(PROFILE)
    posted = await tg.post(
        f"{PROFILE}/plan", data={"csrf_token": csrf_in(page.text), "plan_id": str(pro.id)}
    )
    assert posted.status_code == 402
    assert "Top up your wallet or convert" in posted.text
    assert await balances(db, client_id) == {"EUR": 1_000, "USD": 0}


# Banned clients and forms without their token


async def test_a_banned_client_reads_but_cannot_change_plan(
    http: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 5_000)
    page = await http.get(PROFILE)
    token = csrf_in(page.text)
    await ban(db, client_id)
    shown = await http.get(PROFILE)
    assert shown.status_code == 200
    assert 'id="banned"' in shown.text
    assert f'href="/app/profile/plan/{pro.id}"' not in shown.text
    preview = await http.get(f"{PROFILE}/plan/{pro.id}")
    assert preview.status_code == 403
    assert "Your account is blocked" in preview.text
    posted = await http.post(f"{PROFILE}/plan", data={"csrf_token": token, "plan_id": str(pro.id)})
    assert posted.status_code == 403
    assert "Your account is blocked" in posted.text
    assert await balances(db, client_id) == {"EUR": 5_000, "USD": 0}
    assert (await client_row(db, client_id)).plan_id != pro.id
    # The language is not a business change: a banned client may still pick it.
    saved = await http.post(f"{PROFILE}/language", data={"csrf_token": token, "language": "ru"})
    assert saved.status_code == 303
    assert (await client_row(db, client_id)).app_language == "ru"


async def test_posts_without_the_csrf_token_change_nothing(
    http: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(http)
    await fund(db, client_id, "EUR", 5_000)
    for data in ({"plan_id": str(pro.id)}, {"plan_id": str(pro.id), "csrf_token": "forged"}):
        posted = await http.post(f"{PROFILE}/plan", data=data)
        assert posted.status_code == 403
        assert "This form has expired." in posted.text
    language = await http.post(f"{PROFILE}/language", data={"language": "ru"})
    assert language.status_code == 403
    assert await balances(db, client_id) == {"EUR": 5_000, "USD": 0}
    client = await client_row(db, client_id)
    assert client.plan_id != pro.id
    assert client.app_language is None


async def test_another_sessions_token_is_refused(
    tg: httpx.AsyncClient, other_tg: httpx.AsyncClient, db: Database
) -> None:
    _basic, pro, _hidden, _archived = await catalog(db)
    client_id = await client_id_of(tg)
    await fund(db, client_id, "EUR", 5_000)
    theirs = csrf_in((await other_tg.get(PROFILE)).text)
    posted = await tg.post(f"{PROFILE}/plan", data={"csrf_token": theirs, "plan_id": str(pro.id)})
    assert posted.status_code == 403
    assert await balances(db, client_id) == {"EUR": 5_000, "USD": 0}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in (PROFILE, f"{PROFILE}/plan/{uuid.uuid4()}"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/app/?next={path}"
    posted = await client.post(f"{PROFILE}/language", data={"language": "ru"})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/app/"


# Language


def html_lang(response: httpx.Response) -> str:
    found = re.search(r'<html lang="([a-z]+)">', response.text)
    assert found, response.text[:200]
    return found.group(1)


async def test_the_choice_is_saved_and_the_pages_follow_it(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    assert html_lang(await http.get(PROFILE)) == "en"
    saved = await post_form(http, PROFILE, f"{PROFILE}/language", {"language": "ru"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/app/profile?done=language"
    assert (await client_row(db, client_id)).app_language == "ru"
    page = await http.get(saved.headers["location"])
    assert html_lang(page) == "ru"
    assert 'id="language-ru" class="" aria-pressed="true"' in page.text
    assert html_lang(await http.get("/app/main")) == "ru"  # every tab
    back = await post_form(http, PROFILE, f"{PROFILE}/language", {"language": "en"})
    assert back.status_code == 303
    assert html_lang(await http.get(PROFILE)) == "en"


async def test_an_unknown_language_is_refused(http: httpx.AsyncClient, db: Database) -> None:
    client_id = await client_id_of(http)
    refused = await post_form(http, PROFILE, f"{PROFILE}/language", {"language": "de"})
    assert refused.status_code == 400
    assert (await client_row(db, client_id)).app_language is None


async def test_lang_query_shows_one_page_in_that_language_without_saving(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    assert html_lang(await http.get(f"{PROFILE}?lang=ru")) == "ru"
    assert html_lang(await http.get("/app/main?lang=ru")) == "ru"
    assert html_lang(await http.get(PROFILE)) == "en"
    assert (await client_row(db, client_id)).app_language is None


async def test_a_telegram_client_sees_its_telegram_language_until_it_chooses(
    app: FastAPI, db: Database
) -> None:
    async with client_for(app) as http:
        await telegram_sign_in(http, 777000333, language_code="ru")
        client_id = await client_id_of(http)
        page = await http.get(PROFILE)
        assert html_lang(page) == "ru"
        assert 'id="language-auto"' in page.text
        one_page = await http.get(f"{PROFILE}?lang=en")
        assert html_lang(one_page) == "en"
        assert html_lang(await http.get(PROFILE)) == "ru"  # ?lang= saved nothing
        # The saved choice wins over Telegram's.
        saved = await post_form(http, PROFILE, f"{PROFILE}/language", {"language": "en"})
        assert saved.status_code == 303
        assert (await client_row(db, client_id)).app_language == "en"
        chosen = await http.get(PROFILE)
        assert html_lang(chosen) == "en"
        assert 'id="language-auto"' not in chosen.text
        assert html_lang(await http.get(f"{PROFILE}?lang=ru")) == "ru"


async def test_a_web_client_follows_its_browser_until_it_chooses(
    web: httpx.AsyncClient,
) -> None:
    ru = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}
    assert html_lang(await web.get(PROFILE, headers=ru)) == "ru"
    shown = await web.get(PROFILE, headers=ru)
    saved = await web.post(
        f"{PROFILE}/language",
        data={"csrf_token": csrf_in(shown.text), "language": "en"},
        headers=ru,
    )
    assert saved.status_code == 303
    assert html_lang(await web.get(PROFILE, headers=ru)) == "en"


# The low-balance alert


async def test_the_low_balance_alert_is_saved_shown_and_turned_off(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    page = await http.get(PROFILE)
    assert 'id="low-balance"' in page.text
    assert 'id="low-balance-off"' not in page.text  # nothing to turn off yet
    saved = await post_form(
        http, PROFILE, f"{PROFILE}/low-balance", {"low_balance_threshold": "1 000,50"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/app/profile?done=low_balance"
    assert (await client_row(db, client_id)).low_balance_threshold == 100_050
    shown = await http.get(saved.headers["location"])
    assert 'value="1000.50"' in shown.text
    assert 'id="low-balance-off"' in shown.text
    off = await post_form(http, PROFILE, f"{PROFILE}/low-balance", {"off": "1"})
    assert off.headers["location"] == "/app/profile?done=low_balance_off"
    assert (await client_row(db, client_id)).low_balance_threshold is None


@pytest.mark.parametrize("typed", ["0", "-5", "12.345", "abc", "100000.01"])
async def test_a_wrong_low_balance_amount_is_shown_back_with_the_reason(
    http: httpx.AsyncClient, db: Database, typed: str
) -> None:
    client_id = await client_id_of(http)
    refused = await post_form(
        http, PROFILE, f"{PROFILE}/low-balance", {"low_balance_threshold": typed}
    )
    assert refused.status_code == 400
    assert 'id="e-low_balance_threshold"' in refused.text
    assert f'value="{typed}"' in refused.text
    assert (await client_row(db, client_id)).low_balance_threshold is None


async def test_the_low_balance_alert_needs_the_csrf_token(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    posted = await http.post(f"{PROFILE}/low-balance", data={"low_balance_threshold": "50"})
    assert posted.status_code == 403
    assert (await client_row(db, client_id)).low_balance_threshold is None


async def test_a_banned_client_may_still_set_its_alert(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    await ban(db, client_id)
    saved = await post_form(
        http, PROFILE, f"{PROFILE}/low-balance", {"low_balance_threshold": "20"}
    )
    assert saved.status_code == 303
    assert (await client_row(db, client_id)).low_balance_threshold == 2_000
