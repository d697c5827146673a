"""The cards tab against the sandbox issuer over real HTTP: the cards with their limit, month's
spend and state; issuing (the fee and the slots left shown first, made once per form, the
refusals in plain words); freeze, unfreeze, close, a new limit; the details revealed behind a
confirmation, never cached nor logged; another client's cards, a banned client, CSRF; with a
Telegram session and a web session, on both databases."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.logging import configure_logging
from paywarden.models import Card, Client
from paywarden.subscriptions import service as subscriptions
from tests.banners.conftest import create as create_banner
from tests.cards.conftest import card_rows, set_client
from tests.clientapp.conftest import MAX_HTML, client_id_of, csrf_in
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN, ban
from tests.issuer.stack import IssuerStack, running_stack
from tests.subscriptions.conftest import (
    balances,
    count_kind,
    fund,
    ledger_ok,
    make_plan,
    set_rate,
)

CARD = "/app/card"
_KEY = re.compile(r'name="card_id" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_ISSUED = re.compile(r"^/app/card\?done=issue#card-([0-9a-f-]{36})$")


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(
        make_settings, bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN
    ) as running:
        yield running


@pytest.fixture
def app(stack: IssuerStack) -> FastAPI:
    """The app serving the sandbox issuer: the conftest's sessions (tg, other_tg, web) sign in
    to it, and its issuer adapter makes real cards at the sandbox."""
    return stack.app


async def on_plan(
    db: Database, http: httpx.AsyncClient, *, eur: int = 0, usd: int = 0, **plan: object
) -> uuid.UUID:
    """Put the signed-in client on a fresh plan (free, 1 card included, at most 3, 5.00 EUR
    past that, unless told), its wallets funded; its id."""
    client_id = await client_id_of(http)
    made = await make_plan(db, **plan)
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        client.plan_id = made.id
        await subscriptions.ensure(session, client)
    for currency, amount in (("EUR", eur), ("USD", usd)):
        if amount:
            await fund(db, client_id, currency, amount)
    return client_id


async def preview(
    http: httpx.AsyncClient, currency: str = "EUR", limit: str = "300", label: str = ""
) -> httpx.Response:
    """Fill the tab's issue form (its key included) and open the preview."""
    tab = await http.get(CARD)
    assert tab.status_code == 200, tab.text
    key = _KEY.search(tab.text)
    assert key, "no issue form on the tab"
    params = {"currency": currency, "monthly_limit": limit, "label": label, "card_id": key[1]}
    return await http.get(f"{CARD}/issue", params=params)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(html))


def figures(html: str) -> dict[str, str]:
    """A page's figures, label -> value, tags stripped."""
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", html, re.S)
    return {label: re.sub(r"<[^>]+>", "", value).strip() for label, value in pairs}


async def issue(http: httpx.AsyncClient, *args: str) -> uuid.UUID:
    """Preview a card and confirm it: the new card's id."""
    shown = await preview(http, *args)
    assert shown.status_code == 200, shown.text
    made = await http.post("/app/cards", data=hidden_fields(shown.text))
    assert made.status_code == 303, made.text
    found = _ISSUED.match(made.headers["location"])
    assert found, made.headers["location"]
    return uuid.UUID(found[1])


async def card_row(db: Database, card_id: uuid.UUID) -> Card:
    async with db.transaction() as session:
        row = await session.get(Card, card_id)
        assert row is not None
        return row


async def token(http: httpx.AsyncClient) -> str:
    """The session's CSRF token (the same on every page; the sign-out page always has a form)."""
    page = await http.get("/app/logout")
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


async def post(http: httpx.AsyncClient, action: str, **data: str) -> httpx.Response:
    """Post to `action` with the session's CSRF token, as a tap on one of the tab's buttons."""
    return await http.post(action, data={"csrf_token": await token(http), **data})


def plain(response: httpx.Response, status: int, words: str) -> None:
    """An error page in plain words, leading back to the tab."""
    assert response.status_code == status, response.text
    assert 'id="error"' in response.text
    assert words in response.text
    assert f'href="{CARD}"' in response.text


# The tab


async def test_the_tab_shows_cards_with_limit_spend_and_state(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database, admin_client: httpx.AsyncClient
) -> None:
    client_id = await on_plan(db, http, eur=10_000)  # two issue fees and a purchase
    banner = await create_banner(admin_client, page="card")
    empty = await http.get(CARD)
    assert empty.status_code == 200
    assert 'id="no-cards"' in empty.text
    assert 'id="banner"' in empty.text
    assert banner["id"] in empty.text
    assert "/static/card.css" in empty.text
    assert empty.headers["cache-control"] == "no-store"

    first = await issue(http, "EUR", "300", "Groceries")
    second = await issue(http, "USD", "50.5")
    third = await issue(http, "EUR", "20")
    row = await card_row(db, first)
    answer = await stack.purchase(row.issuer_card_id, "12.34")
    assert answer["status"] == "approved", answer
    assert (await http.post(f"{CARD}/{second}/freeze")).status_code == 403  # no CSRF token
    assert (await post(http, f"{CARD}/{second}/freeze")).status_code == 303
    assert (await post(http, f"{CARD}/{third}/close")).status_code == 303

    page = await http.get(CARD)
    html = page.text
    assert len(page.content) < MAX_HTML
    # Newest first, closed ones after, in their own section.
    assert html.index(f'id="card-{second}"') < html.index(f'id="card-{first}"')
    assert html.index(f'id="card-{first}"') < html.index('id="closed-cards"')
    assert html.index('id="closed-cards"') < html.index(f'id="card-{third}"')
    assert f"•••• {row.last4} · EUR" in html
    assert "Groceries" in html
    start = html.index(f'id="card-{first}"')
    shown = figures(html[start : html.index("</li>", start)])
    assert shown["Monthly limit"] == "300.00 EUR"
    assert shown["Spent this month"] == "12.34 EUR"
    assert shown["Left this month"] == "287.66 EUR"
    assert re.search(rf'id="state-{first}">Active<', html)
    assert re.search(rf'id="state-{second}">Frozen<', html)
    assert re.search(rf'id="state-{third}">Closed<', html)
    assert f'action="{CARD}/{second}/unfreeze"' in html
    assert f"{CARD}/{third}/reveal" not in html  # a closed card has no actions
    assert "inputmode=decimal required" in html  # the attributes, not escaped text
    assert [c.id for c in await card_rows(db, client_id)] == [first, second, third]
    russian = await http.get(CARD, params={"lang": "ru"})
    assert russian.status_code == 200
    assert '<html lang="ru">' in russian.text
    assert "12,34 EUR" in russian.text


# Issuing


async def test_the_fee_and_slots_are_shown_first_and_a_double_post_issues_once(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    client_id = await on_plan(db, http, eur=1000, cards_included=1, card_issue_fee=500)
    free = await preview(http, "EUR", "250,50", "Travel")
    assert free.status_code == 200, free.text
    assert len(free.content) < MAX_HTML
    rows = figures(free.text)
    assert rows["Monthly limit"] == "250.50 EUR"
    assert rows["Issue fee"] == "Free: included in your plan"
    assert rows["Free cards left on your plan"] == "1 of 1"
    assert rows["Open cards"] == "0 of at most 3"
    fields = hidden_fields(free.text)
    assert fields["monthly_limit"] == "250.50"
    uuid.UUID(fields["card_id"])  # the tab's key, carried to the confirm form
    first = await http.post("/app/cards", data=fields)
    again = await http.post("/app/cards", data=fields)  # a double tap
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(stack.sandbox.cards) == 1  # the issuer was asked once
    [card] = await card_rows(db, client_id)
    assert (card.id, card.monthly_limit, card.label) == (
        uuid.UUID(fields["card_id"]),
        25050,
        "Travel",
    )

    paid = await preview(http, "USD", "40")
    rows = figures(paid.text)
    assert rows["Issue fee"] == "5.00 EUR from your EUR wallet"
    assert rows["Free cards left on your plan"] == "0 of 1"
    assert rows["Open cards"] == "1 of at most 3"
    fields = hidden_fields(paid.text)
    for _ in range(2):
        made = await http.post("/app/cards", data=fields)
        assert made.status_code == 303, made.text
    assert len(stack.sandbox.cards) == 2
    assert len(await card_rows(db, client_id)) == 2
    assert await count_kind(db, "card_issue_fee") == 1  # charged once
    assert await balances(db, client_id) == {"EUR": 500, "USD": 0}
    done = await http.get(made.headers["location"])
    assert 'id="done"' in done.text
    await ledger_ok(db)


async def test_the_fee_from_usd_is_shown_in_usd(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    client_id = await on_plan(db, http, usd=1000, cards_included=0, card_issue_fee=500)
    await set_rate(db, 1_100_000)
    shown = await preview(http)
    rows = figures(shown.text)
    assert rows["Issue fee"] == "5.50 USD from your USD wallet"
    assert "USD wallet at our exchange rate" in shown.text
    made = await http.post("/app/cards", data=hidden_fields(shown.text))
    assert made.status_code == 303, made.text
    assert await balances(db, client_id) == {"EUR": 0, "USD": 450}


async def test_a_bad_form_comes_back_with_what_to_fix(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, http)
    for limit in ("abc", "0", "100001", "1.234"):
        shown = await preview(http, "EUR", limit)
        assert shown.status_code == 400
        assert 'id="e-monthly_limit"' in shown.text
        assert f'value="{limit}"' in shown.text  # what was typed, to fix
    wrong = await preview(http, "GBP", "10")
    assert (wrong.status_code, 'id="e-currency"' in wrong.text) == (400, True)
    fields = {"currency": "EUR", "monthly_limit": "10", "label": "", "card_id": "not-a-key"}
    no_key = await post(http, "/app/cards", **fields)
    plain(no_key, 400, "Open the Cards tab and try again")
    assert stack.sandbox.cards == {}


async def test_refusals_in_plain_words_and_nothing_issued(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    # Past the included cards without the fee's funds: 402, at the preview and at the post.
    client_id = await on_plan(db, http, cards_included=0, card_issue_fee=500)
    short = await preview(http)
    plain(short, 402, "Top up your wallet")
    fields = {**hidden_fields((await preview(http, "EUR", "10")).text)}
    assert fields == {}  # no confirm form on a refusal
    key = _KEY.search((await http.get(CARD)).text)
    assert key
    body = {"currency": "EUR", "monthly_limit": "10", "label": "", "card_id": key[1]}
    plain(await post(http, "/app/cards", **body), 402, "Top up your wallet")
    # Only USD to pay with and no rate set.
    await fund(db, client_id, "USD", 1000)
    plain(await preview(http), 409, "Euro and dollar cannot be exchanged right now")
    # Cards turned off for this client by operators.
    await set_client(db, client_id, can_create_cards=False)
    plain(await preview(http), 403, "Issuing cards is turned off for your account")
    plain(await post(http, "/app/cards", **body), 403, "Issuing cards is turned off")
    assert stack.sandbox.cards == {}
    assert await card_rows(db, client_id) == []


async def test_the_cap_and_an_unpaid_plan_are_refused_in_plain_words(
    http: httpx.AsyncClient, other_tg: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, http, max_active_cards=1)
    await issue(http)
    plain(await preview(http), 409, "as many cards as your plan allows")
    # A plan whose monthly fee the wallets cannot pay: the subscription is not active.
    await on_plan(db, other_tg, monthly_fee=1000)
    plain(await preview(other_tg), 409, "Your plan is not paid for this month")
    assert len(stack.sandbox.cards) == 1


async def test_another_clients_card_id_as_the_key_is_refused(
    http: httpx.AsyncClient, other_tg: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, other_tg)
    theirs = await issue(other_tg)
    mine = await on_plan(db, http)
    shown = await preview(http)
    fields = {**hidden_fields(shown.text), "card_id": str(theirs)}
    refused = await http.post("/app/cards", data=fields)
    plain(refused, 404, "We could not find this card")
    assert len(stack.sandbox.cards) == 1
    assert await card_rows(db, mine) == []


async def test_without_an_issuer_the_tab_says_cards_are_off(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, http)
    card_id = await issue(http)
    adapter = stack.app.state.issuer
    stack.app.state.issuer = None  # ISSUER=none: the installation runs the gateway alone
    try:
        tab = await http.get(CARD)
        assert tab.status_code == 200
        assert 'id="cards-off"' in tab.text
        assert 'id="issue-form"' not in tab.text
        assert f'id="card-{card_id}"' in tab.text  # the cards are still listed
        params = {"currency": "EUR", "monthly_limit": "10", "card_id": str(uuid.uuid4())}
        plain(await http.get(f"{CARD}/issue", params=params), 503, "Cards are not offered here")
        plain(await post(http, "/app/cards", **params), 503, "Cards are not offered here")
        plain(await post(http, f"{CARD}/{card_id}/freeze"), 503, "Cards are not offered here")
    finally:
        stack.app.state.issuer = adapter
    assert (await card_row(db, card_id)).status == "active"


# Freeze, unfreeze, close, the limit


async def test_freeze_unfreeze_limit_and_close_at_the_issuer(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, http)
    card_id = await issue(http, "EUR", "100")
    at_issuer = stack.sandbox.cards[(await card_row(db, card_id)).issuer_card_id]

    frozen = await post(http, f"{CARD}/{card_id}/freeze")
    assert frozen.headers["location"] == f"{CARD}?done=freeze#card-{card_id}"
    assert (at_issuer.status, (await card_row(db, card_id)).status) == ("FROZEN", "frozen")
    assert "purchases are declined" in (await http.get(frozen.headers["location"])).text
    await post(http, f"{CARD}/{card_id}/unfreeze")
    assert (at_issuer.status, (await card_row(db, card_id)).status) == ("ACTIVE", "active")

    changed = await post(http, f"{CARD}/{card_id}/limit", monthly_limit="1 200,50")
    assert changed.status_code == 303, changed.text
    assert (at_issuer.monthly_limit, (await card_row(db, card_id)).monthly_limit) == (
        120_050,
        120_050,
    )
    bad = await post(http, f"{CARD}/{card_id}/limit", monthly_limit="-5")
    assert bad.status_code == 400
    assert f'id="e-limit-{card_id}"' in bad.text
    assert (await card_row(db, card_id)).monthly_limit == 120_050

    asked = await http.get(f"{CARD}/{card_id}/close")
    assert asked.status_code == 200
    assert len(asked.content) < MAX_HTML
    assert "cannot be opened again" in asked.text
    assert f'action="{CARD}/{card_id}/close"' in asked.text
    closed = await http.post(f"{CARD}/{card_id}/close", data=hidden_fields(asked.text))
    assert closed.status_code == 303
    assert (at_issuer.status, (await card_row(db, card_id)).status) == ("CLOSED", "closed")
    # Closed is for good.
    plain(await post(http, f"{CARD}/{card_id}/unfreeze"), 409, "This card is closed")
    plain(await http.get(f"{CARD}/{card_id}/reveal"), 409, "This card is closed")
    plain(await post(http, f"{CARD}/{card_id}/limit", monthly_limit="5"), 409, "is closed")


async def test_another_clients_cards_are_404_on_every_route(
    http: httpx.AsyncClient, other_tg: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    await on_plan(db, other_tg)
    theirs = await issue(other_tg, "EUR", "100")
    await on_plan(db, http)
    tab = await http.get(CARD)
    assert str(theirs) not in tab.text
    csrf = await token(http)
    for path in (f"{CARD}/{theirs}/close", f"{CARD}/{theirs}/reveal"):
        plain(await http.get(path), 404, "We could not find this card")
    for action in ("freeze", "unfreeze", "close", "limit", "reveal"):
        answer = await http.post(
            f"{CARD}/{theirs}/{action}", data={"csrf_token": csrf, "monthly_limit": "5"}
        )
        plain(answer, 404, "We could not find this card")
    plain(await http.get(f"{CARD}/not-a-card/close"), 404, "We could not find")
    row = await card_row(db, theirs)
    assert (row.status, row.monthly_limit) == ("active", 10_000)
    assert stack.sandbox.cards[row.issuer_card_id].status == "ACTIVE"


async def test_a_banned_client_reads_but_changes_nothing(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    client_id = await on_plan(db, http, eur=1000)
    card_id = await issue(http)
    key = _KEY.search((await http.get(CARD)).text)
    assert key
    await ban(db, client_id)
    tab = await http.get(CARD)
    assert tab.status_code == 200
    assert 'id="banned"' in tab.text
    assert f'id="card-{card_id}"' in tab.text
    assert 'id="issue-form"' not in tab.text
    assert f'action="{CARD}/{card_id}/freeze"' not in tab.text
    csrf = await token(http)
    blocked = "Your account is blocked"
    params = {"currency": "EUR", "monthly_limit": "10", "label": "", "card_id": key[1]}
    plain(await http.get(f"{CARD}/issue", params=params), 403, blocked)
    plain(await http.post("/app/cards", data={"csrf_token": csrf, **params}), 403, blocked)
    for path in (f"{CARD}/{card_id}/close", f"{CARD}/{card_id}/reveal"):
        plain(await http.get(path), 403, blocked)
    for action in ("freeze", "unfreeze", "close", "limit", "reveal"):
        answer = await http.post(
            f"{CARD}/{card_id}/{action}", data={"csrf_token": csrf, "monthly_limit": "5"}
        )
        plain(answer, 403, blocked)
        assert "CVV" not in answer.text
    row = await card_row(db, card_id)
    assert (row.status, row.monthly_limit) == ("active", 30_000)
    assert len(stack.sandbox.cards) == 1


async def test_posts_without_the_csrf_token_change_nothing(
    http: httpx.AsyncClient, stack: IssuerStack, db: Database
) -> None:
    client_id = await on_plan(db, http, cards_included=2)
    card_id = await issue(http)
    fields = hidden_fields((await preview(http)).text)
    del fields["csrf_token"]
    assert (await http.post("/app/cards", data=fields)).status_code == 403
    for action in ("freeze", "close", "limit", "reveal"):
        answer = await http.post(f"{CARD}/{card_id}/{action}", data={"monthly_limit": "5"})
        assert answer.status_code == 403, action
        assert "This form has expired" in answer.text
    wrong = await http.post(f"{CARD}/{card_id}/freeze", data={"csrf_token": "x" * 64})
    assert wrong.status_code == 403
    row = await card_row(db, card_id)
    assert (row.status, row.monthly_limit) == ("active", 30_000)
    assert len(await card_rows(db, client_id)) == 1
    assert len(stack.sandbox.cards) == 1


# The card's details


async def test_details_are_revealed_behind_a_confirmation_uncached_and_never_logged(
    http: httpx.AsyncClient,
    stack: IssuerStack,
    db: Database,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging(json=True, level="DEBUG")  # every line the app writes, captured below
    await on_plan(db, http)
    card_id = await issue(http)
    at_issuer = stack.sandbox.cards[(await card_row(db, card_id)).issuer_card_id]
    asked = await http.get(f"{CARD}/{card_id}/reveal")
    assert asked.status_code == 200
    assert len(asked.content) < MAX_HTML
    assert "Show the number, expiry and CVV?" in asked.text
    assert at_issuer.pan not in asked.text
    shown = await http.post(f"{CARD}/{card_id}/reveal", data=hidden_fields(asked.text))
    assert shown.status_code == 200, shown.text
    assert len(shown.content) < MAX_HTML
    assert shown.headers["cache-control"] == "no-store"
    details = figures(shown.text)
    pan = at_issuer.pan
    assert details["Card number"] == " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    assert details["Expiry"] == f"{at_issuer.exp_month:02d}/{at_issuer.exp_year % 100:02d}"
    assert details["CVV"] == at_issuer.cvv
    assert 'data-hide-after="60" data-hide-to="/app/card"' in shown.text
    assert 'id="hide-now">Hide now<' in shown.text
    assert pan not in str(shown.url)  # never in a URL
    assert not shown.history
    # A frozen card's details can still be shown.
    await post(http, f"{CARD}/{card_id}/freeze")
    again = await http.post(f"{CARD}/{card_id}/reveal", data=hidden_fields(asked.text))
    assert again.status_code == 200
    logged = capfd.readouterr()
    everything = logged.out + logged.err + caplog.text
    assert str(card_id) in everything  # the requests were logged: the capture works
    assert pan not in everything
    assert pan[-8:] not in everything
    assert "cvv" not in everything.lower()
