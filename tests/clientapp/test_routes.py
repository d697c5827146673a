"""Every route of the client app at once: each is classified (public or for a signed-in client),
a signed-out visitor is sent to the entry, every post checks its CSRF token, and no route that
takes an id of a client's own things (a card, a top-up) reaches another client's.

A new route fails `test_every_route_is_classified` until it is added to a table here, and so
joins the other checks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from paywarden.clientapp import routers
from paywarden.config import Settings
from paywarden.models import Card, Topup
from tests.clientapp.conftest import csrf_in
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN
from tests.issuer.stack import IssuerStack, running_stack
from tests.subscriptions.conftest import make_plan

PUBLIC = {
    ("GET", "/app/"),
    ("GET", "/app/signup"),
    ("POST", "/app/signup"),
    ("GET", "/app/login"),
    ("POST", "/app/login"),
    ("GET", "/app/verify"),
}
SIGNED_IN = {
    ("GET", "/app/logout"),
    ("POST", "/app/logout"),
    ("GET", "/app/main"),
    ("GET", "/app/main/balances"),
    ("POST", "/app/topups"),
    ("GET", "/app/topups/{topup_id}"),
    ("GET", "/app/topups/{topup_id}/status"),
    ("GET", "/app/convert/preview"),
    ("POST", "/app/convert"),
    ("GET", "/app/card"),
    ("GET", "/app/card/issue"),
    ("POST", "/app/cards"),
    ("POST", "/app/card/{card_id}/freeze"),
    ("POST", "/app/card/{card_id}/unfreeze"),
    ("GET", "/app/card/{card_id}/close"),
    ("POST", "/app/card/{card_id}/close"),
    ("POST", "/app/card/{card_id}/limit"),
    ("GET", "/app/card/{card_id}/reveal"),
    ("POST", "/app/card/{card_id}/reveal"),
    ("GET", "/app/3ds"),
    ("GET", "/app/3ds/pending"),
    ("GET", "/app/tx"),
    ("GET", "/app/profile"),
    ("GET", "/app/profile/plan/{plan_id}"),
    ("POST", "/app/profile/plan"),
    ("POST", "/app/profile/language"),
    ("POST", "/app/profile/low-balance"),
}
# A post's fields besides the CSRF token, enough to get past the form's own checks.
FORMS = {
    "/app/card/{card_id}/limit": {"monthly_limit": "50"},
    "/app/profile/low-balance": {"low_balance_threshold": "50"},
}


def app_routes() -> set[tuple[str, str]]:
    """The client app's routes (its routers are what `install_clientapp` includes)."""
    return {
        (method, route.path)
        for router in routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method != "HEAD"
    }


@pytest.fixture
async def stack(make_settings: Callable[..., Settings]) -> AsyncIterator[IssuerStack]:
    async with running_stack(
        make_settings, bot_api_token=BOT_TOKEN, telegram_bot_token=TELEGRAM_TOKEN
    ) as running:
        yield running


@pytest.fixture
def app(stack: IssuerStack) -> FastAPI:
    """The app with the sandbox issuer served: the owner's card is a real one."""
    return stack.app


def test_every_route_is_classified() -> None:
    assert app_routes() == PUBLIC | SIGNED_IN


def test_the_app_is_not_in_the_api_schema(app: FastAPI) -> None:
    assert not [p for p in app.openapi()["paths"] if p.startswith("/app")]


def _filled(path: str, ids: dict[str, str]) -> str:
    return path.format(
        **{name: ids.get(name, str(uuid.uuid4())) for name in ("card_id", "topup_id", "plan_id")}
    )


async def test_signed_out_everything_goes_to_the_entry(client: httpx.AsyncClient) -> None:
    for method, path in sorted(SIGNED_IN):
        url = _filled(path, {})
        answer = await client.request(method, url)
        assert answer.status_code == 303, (method, url, answer.status_code)
        expected = f"/app/?next={url}" if method == "GET" else "/app/"
        assert answer.headers["location"] == expected, (method, url)


async def _owned(db: object, owner: httpx.AsyncClient) -> dict[str, str]:
    """A card and a top-up of the owner, made through the client API."""
    assert (await owner.get("/api/botcartd/state")).status_code == 200  # on the default plan
    card = await owner.post(
        "/api/botcartd/cards", json={"currency": "EUR", "monthly_limit": "90.00"}
    )
    assert card.status_code == 201, card.text
    topup = await owner.post("/api/botcartd/topups", json={"amount": "10"})
    assert topup.status_code == 201, topup.text
    return {"card_id": card.json()["id"], "topup_id": topup.json()["topup_id"]}


async def test_no_route_reaches_another_clients_card_or_topup(
    app: FastAPI, tg: httpx.AsyncClient, other_tg: httpx.AsyncClient
) -> None:
    db = app.state.db
    await make_plan(db, "Start", is_default=True, card_issue_fee=0, cards_included=2)
    ids = await _owned(db, tg)
    before = await _snapshot(db)
    token = csrf_in((await other_tg.get("/app/main")).text)
    owned = [(m, p) for m, p in SIGNED_IN if "{card_id}" in p or "{topup_id}" in p]
    assert len(owned) == 9
    for method, path in sorted(owned):
        url = _filled(path, ids)
        data = {"csrf_token": token, **FORMS.get(path, {})} if method == "POST" else None
        answer = await other_tg.request(method, url, data=data)
        assert answer.status_code == 404, (method, url, answer.status_code)
        assert ids["card_id"] not in answer.text
    # The ids as a filter, or as the key of a new card or top-up (the forms make their own).
    filtered = await other_tg.get("/app/tx", params={"card": ids["card_id"]})
    assert filtered.status_code == 404
    keyed = {
        "/app/cards": {"card_id": ids["card_id"], "currency": "EUR", "monthly_limit": "90"},
        "/app/topups": {"topup_id": ids["topup_id"], "amount": "10"},
    }
    for action, fields in keyed.items():
        answer = await other_tg.post(action, data={"csrf_token": token, **fields})
        assert answer.status_code in (404, 409), (action, answer.status_code)
    assert await _snapshot(db) == before
    # The owner still reaches them all.
    for path in ("/app/topups/{topup_id}", "/app/card/{card_id}/reveal"):
        assert (await tg.get(_filled(path, ids))).status_code == 200


async def _snapshot(db: object) -> list[tuple[object, ...]]:
    async with db.transaction() as session:  # type: ignore[attr-defined]
        cards = [(c.id, c.status, c.monthly_limit) for c in await session.scalars(select(Card))]
        topups = [(t.id, t.status) for t in await session.scalars(select(Topup))]
    return sorted(cards, key=str) + sorted(topups, key=str)


async def test_every_post_refuses_a_missing_or_forged_csrf_token(
    app: FastAPI, tg: httpx.AsyncClient, other_tg: httpx.AsyncClient
) -> None:
    db = app.state.db
    await make_plan(db, "Start", is_default=True, card_issue_fee=0, cards_included=2)
    ids = await _owned(db, tg)
    before = await _snapshot(db)
    forged = csrf_in((await other_tg.get("/app/main")).text)  # another session's token
    for method, path in sorted(SIGNED_IN):
        if method != "POST":
            continue
        url = _filled(path, ids)
        for token in (None, forged):
            data = {**FORMS.get(path, {}), **({"csrf_token": token} if token else {})}
            answer = await tg.post(url, data=data)
            assert answer.status_code == 403, (url, token is not None, answer.status_code)
    assert await _snapshot(db) == before
