"""Freeze, unfreeze, close and the monthly limit, by the client and by operators; the card's
details fetched on demand and never logged; who may touch which card."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from paywarden.cards.service import month_of
from paywarden.issuer.base import IssuerError
from paywarden.kit.db import Database
from paywarden.kit.logging import configure_logging
from paywarden.models import AuditEntry, Card
from tests.cards.conftest import (
    CARDS,
    FakeIssuer,
    Holder,
    card_rows,
    issue,
    make_holder,
    set_client,
)
from tests.clients.test_auth import error


async def _card(client: httpx.AsyncClient, holder: Holder, **more: object) -> dict[str, object]:
    response = await issue(client, holder, **more)  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    return response.json()


def _act(client: httpx.AsyncClient, holder: Holder, card_id: object, action: str) -> httpx.Response:
    return client.post(  # type: ignore[return-value]
        f"{CARDS}/{card_id}/{action}", params=holder.params, headers=holder.headers
    )


async def _summary(client: httpx.AsyncClient, holder: Holder) -> dict[str, object]:
    state = await client.get("/api/botcartd/state", params=holder.params, headers=holder.headers)
    return state.json()["subscription"]


async def test_the_client_walks_a_card_through_its_lifecycle(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db, eur=1000)
    card = await _card(client, holder)
    card_id, at_issuer = card["id"], issuer.cards[str(card["issuer_card_id"])]

    frozen = await _act(client, holder, card_id, "freeze")
    assert (frozen.status_code, frozen.json()["status"], at_issuer["status"]) == (
        200,
        "frozen",
        "frozen",
    )
    calls = len(issuer.calls)
    again = await _act(client, holder, card_id, "freeze")  # already frozen: a no-op
    assert (again.status_code, again.json()["status"], len(issuer.calls)) == (200, "frozen", calls)
    summary = await _summary(client, holder)
    assert summary["active_cards"] == 1  # a frozen card still takes its slot

    active = await _act(client, holder, card_id, "unfreeze")
    assert (active.json()["status"], at_issuer["status"]) == ("active", "active")

    patched = await client.patch(
        f"{CARDS}/{card_id}",
        params=holder.params,
        headers=holder.headers,
        json={"monthlyLimit": "1250.75"},
    )
    assert (patched.status_code, patched.json()["monthly_limit"]) == (200, "1250.75")
    assert at_issuer["limit"] == 125075

    closed = await _act(client, holder, card_id, "close")
    assert (closed.json()["status"], at_issuer["status"]) == ("closed", "closed")
    rows = await card_rows(db, holder.id)
    assert rows[0].closed_at is not None
    summary = await _summary(client, holder)
    assert (summary["active_cards"], summary["slots_left"], summary["next_card_issue_fee"]) == (
        0,
        1,
        "0.00",
    )

    calls = len(issuer.calls)
    for action in ("freeze", "unfreeze", "close"):
        assert error(await _act(client, holder, card_id, action)) == (409, "INVALID_STATE")
    again_patch = await client.patch(
        f"{CARDS}/{card_id}",
        params=holder.params,
        headers=holder.headers,
        json={"monthly_limit": "5"},
    )
    assert error(again_patch) == (409, "INVALID_STATE")
    details = await client.get(
        f"{CARDS}/{card_id}/details", params=holder.params, headers=holder.headers
    )
    assert error(details) == (409, "INVALID_STATE")
    assert len(issuer.calls) == calls  # a closed card is not asked about at the issuer
    # Audited only when an operator acts.
    async with db.transaction() as session:
        audited = select(AuditEntry).where(AuditEntry.action.like("card.%"))
        assert (await session.scalar(audited)) is None


async def test_an_issuer_refusal_changes_nothing_here(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db)
    card = await _card(client, holder)
    issuer.fail["freeze"] = [IssuerError("card locked", raw_code="LOCKED")]
    assert error(await _act(client, holder, card["id"], "freeze")) == (502, "ISSUER_ERROR")
    issuer.fail["close"] = [IssuerError("timeout", retryable=True)]
    assert error(await _act(client, holder, card["id"], "close")) == (502, "ISSUER_UNAVAILABLE")
    issuer.fail["set_limit"] = [IssuerError("too high")]
    patched = await client.patch(
        f"{CARDS}/{card['id']}",
        params=holder.params,
        headers=holder.headers,
        json={"monthly_limit": "9.00"},
    )
    assert error(patched) == (502, "ISSUER_ERROR")
    [row] = await card_rows(db, holder.id)
    assert (row.status, row.monthly_limit) == ("active", 50000)


async def test_another_clients_card_is_404(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    owner = await make_holder(db)
    other = await make_holder(db)
    card = await _card(client, owner)
    for target in (card["id"], uuid.uuid4()):
        for action in ("freeze", "unfreeze", "close"):
            assert error(await _act(client, other, target, action)) == (404, "NOT_FOUND")
        url = f"{CARDS}/{target}"
        patched = await client.patch(
            url, params=other.params, headers=other.headers, json={"monthly_limit": "1"}
        )
        assert error(patched) == (404, "NOT_FOUND")
        details = await client.get(f"{url}/details", params=other.params, headers=other.headers)
        assert error(details) == (404, "NOT_FOUND")
    listed = await client.get(CARDS, params=other.params, headers=other.headers)
    assert listed.json() == {"data": []}
    [row] = await card_rows(db, owner.id)
    assert row.status == "active"


async def test_a_banned_client_changes_nothing_but_operators_may_freeze_and_close(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    db: Database,
    issuer: FakeIssuer,
) -> None:
    holder = await make_holder(db, eur=1000)
    first, second = await _card(client, holder), await _card(client, holder)
    await set_client(db, holder.id, status="banned")
    for action in ("freeze", "close"):
        assert error(await _act(client, holder, first["id"], action)) == (403, "CLIENT_BANNED")
    details = await client.get(
        f"{CARDS}/{first['id']}/details", params=holder.params, headers=holder.headers
    )
    assert error(details) == (403, "CLIENT_BANNED")
    listed = await client.get(CARDS, params=holder.params, headers=holder.headers)
    assert len(listed.json()["data"]) == 2  # reading is still allowed

    admin = "/api/v1/admin/cards"
    frozen = await admin_client.post(f"{admin}/{first['id']}/freeze")
    assert (frozen.status_code, frozen.json()["status"]) == (200, "frozen")
    assert error(await admin_client.post(f"{admin}/{first['id']}/unfreeze")) == (
        403,
        "CLIENT_BANNED",
    )
    limit = await admin_client.patch(f"{admin}/{second['id']}", json={"monthly_limit": "1.00"})
    assert error(limit) == (403, "CLIENT_BANNED")
    closed = await admin_client.post(f"{admin}/{second['id']}/close")
    assert closed.json()["status"] == "closed"


async def test_operators_run_the_lifecycle_audited(
    client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    db: Database,
    issuer: FakeIssuer,
) -> None:
    holder = await make_holder(db)
    card = await _card(client, holder, currency="USD")
    admin = f"/api/v1/admin/cards/{card['id']}"
    assert (await admin_client.post(f"{admin}/freeze")).json()["status"] == "frozen"
    assert (await admin_client.post(f"{admin}/unfreeze")).json()["status"] == "active"
    patched = await admin_client.patch(admin, json={"monthly_limit": "42"})
    assert patched.json()["monthly_limit"] == "42.00"
    assert (await admin_client.post(f"{admin}/close")).json()["status"] == "closed"
    assert error(await admin_client.post(f"{admin}/freeze")) == (409, "INVALID_STATE")
    assert error(await admin_client.post(f"/api/v1/admin/cards/{uuid.uuid4()}/close")) == (
        404,
        "NOT_FOUND",
    )
    async with db.transaction() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("card.%"))
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        ).all()
    assert sorted(e.action for e in entries) == sorted(
        ["card.freeze", "card.unfreeze", "card.limit_change", "card.close"]
    )
    assert {(e.target_type, e.target_id) for e in entries} == {("client", str(holder.id))}
    limit_change = next(e for e in entries if e.action == "card.limit_change")
    assert (limit_change.details["before"], limit_change.details["after"]) == (50000, 4200)
    assert all(e.details["card_id"] == card["id"] for e in entries)


async def test_details_come_from_the_issuer_uncached_and_never_logged(
    client: httpx.AsyncClient,
    db: Database,
    issuer: FakeIssuer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging(json=True, level="DEBUG")  # every line the app writes, captured below
    holder = await make_holder(db)
    card = await _card(client, holder)
    at_issuer = issuer.cards[str(card["issuer_card_id"])]
    response = await client.get(
        f"{CARDS}/{card['id']}/details", params=holder.params, headers=holder.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"pan": at_issuer["pan"], "expiry": "12/29", "cvv": at_issuer["cvv"]}
    assert response.headers["cache-control"] == "no-store"
    # A frozen card's details can still be read (the holder may need them to unfreeze and pay).
    await _act(client, holder, card["id"], "freeze")
    frozen = await client.get(
        f"{CARDS}/{card['id']}/details", params=holder.params, headers=holder.headers
    )
    assert frozen.status_code == 200
    logged = capfd.readouterr()
    everything = logged.out + logged.err + caplog.text
    assert card["id"] in everything  # the requests were logged: the capture works
    assert at_issuer["pan"] not in everything
    assert f"cvv={at_issuer['cvv']}" not in everything
    # Never stored: no column holds it.
    [row] = await card_rows(db, holder.id)
    assert at_issuer["pan"] not in repr({c.name: getattr(row, c.name) for c in Card.__table__.c})


async def test_details_when_the_issuer_fails_are_502(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db)
    card = await _card(client, holder)
    issuer.fail["card_details"] = [IssuerError("down", retryable=True)]
    details = await client.get(
        f"{CARDS}/{card['id']}/details", params=holder.params, headers=holder.headers
    )
    assert error(details) == (502, "ISSUER_UNAVAILABLE")


async def test_spent_this_month_counts_only_the_current_utc_month(
    client: httpx.AsyncClient, db: Database, issuer: FakeIssuer
) -> None:
    holder = await make_holder(db)
    card = await _card(client, holder)
    now = datetime.now(UTC)
    last_month = month_of(now.replace(day=1) - timedelta(days=1))
    for month, shown in ((month_of(now), "12.34"), (last_month, "0.00")):
        async with db.transaction() as session:
            await session.execute(
                update(Card)
                .where(Card.id == uuid.UUID(str(card["id"])))
                .values(spend_month=month, spent_this_month=1234)
            )
        listed = await client.get(CARDS, params=holder.params, headers=holder.headers)
        assert listed.json()["data"][0]["spent_this_month"] == shown
