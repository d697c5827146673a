"""`/admin`: the seed's "Admin quick start" with the day's figures of both products."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from tests.card_transaction_review.test_card_transactions import create_card, create_tx
from tests.clients.test_auth import make_client
from tests.conftest import client_for, start_app
from tests.factories import create_merchant, create_operator, create_payment, sign_in


async def test_quick_start_shows_the_flows_and_todays_figures(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    merchant = await create_merchant(db)
    await create_payment(admin_client, merchant, amount="12.5")
    ann = await make_client(db, "tg_501")
    card = await create_card(db, ann)
    await create_tx(db, card, amount=4200, settled_amount=4200, created_at=utcnow())
    page = (await admin_client.get("/admin")).text
    assert "Pick a flow: metrics overview, client work, accounts, plans, or support." in page
    for path in ("/admin/cards", "/admin/clients", "/admin/plans", "/admin/support"):
        assert f'href="{path}"' in page
    assert 'action="/admin/lookup"' in page
    cards = page[page.index('id="today-cards"') : page.index('id="today-gateway"')]
    assert "42.00 EUR" in cards  # spend today
    assert "<dd>1</dd>" in cards  # active cards
    gateway = page[page.index('id="today-gateway"') :]
    assert "<dd>1</dd>" in gateway  # orders today
    assert 'aria-current="page">Quick start' in page


async def test_accounts_flow_follows_the_role(app: FastAPI, db: Database) -> None:
    op = await create_operator(db, "plain@example.com")
    async with client_for(app) as c:
        await sign_in(c, op)
        page = (await c.get("/admin")).text
    assert 'href="/admin/operators"' not in page
    assert 'href="/admin/sessions"' in page


async def test_with_cards_off_the_quick_start_says_so(
    make_settings: Callable[..., Settings],
) -> None:

    app, lifespan = await start_app(make_settings(issuer="none"))
    try:
        op = await create_operator(app.state.db, "off@example.com")
        async with client_for(app) as c:
            await sign_in(c, op)
            response = await c.get("/admin")
        assert response.status_code == 200
        assert "Cards are off" in response.text
    finally:
        await lifespan.__aexit__(None, None, None)


async def test_an_unknown_console_path_is_a_page_not_json(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for method in ("GET", "POST"):
        response = await admin_client.request(method, "/admin/no-such-page/42")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "There is no such page in the console" in response.text
        assert 'class="side"' in response.text  # in the console's frame, with the menu
    anonymous = await client.get("/admin/no-such-page")
    assert anonymous.status_code == 404
    assert anonymous.headers["content-type"].startswith("text/html")
    assert 'class="side"' not in anonymous.text
    assert (await client.get("/admin/static/console.css")).status_code == 200


async def test_an_unexpected_error_is_a_page_and_changes_nothing(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    """A real fault inside a console page (a table gone from under it): the DbRoute rolls back,
    the operator gets the console's 500 page in its frame, never the API's JSON or the error."""
    async with db.transaction() as session:
        await session.execute(
            text("ALTER TABLE order_daily_stats RENAME TO order_daily_stats_away")
        )
    try:
        response = await admin_client.get("/admin")
    finally:
        async with db.transaction() as session:
            await session.execute(
                text("ALTER TABLE order_daily_stats_away RENAME TO order_daily_stats")
            )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something failed on our side and nothing was changed" in response.text
    assert 'class="side"' in response.text
    assert "order_daily_stats" not in response.text
    assert (await admin_client.get("/admin")).status_code == 200
