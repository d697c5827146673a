"""POST /api/v1/issuer/sandbox/webhooks: stored once, handled once, in any order."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from paywarden.card_transactions import inbox, tasks
from paywarden.config import Settings
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, CardTransaction, IssuerEvent, LedgerTransaction
from paywarden.wallets import service as wallets
from tests.card_transactions.conftest import (
    WEBHOOKS,
    Buyer,
    authorization,
    authorize,
    card_row,
    event,
    event_row,
    hold_row,
    ledger_ok,
    make_buyer,
    send,
    signed,
    tx_data,
    tx_row,
    wallet,
)


async def _approved(
    http: httpx.AsyncClient, settings: Settings, buyer: Buyer, amount: int, **more: object
) -> str:
    body = authorization(buyer, amount, **more)  # type: ignore[arg-type]
    assert (await authorize(http, settings, body))["approved"]
    return str(body["transaction_id"])


async def _float(db: Database, currency: str = "EUR") -> int:
    async with db.transaction() as session:
        return await wallets.system_balance(session, "issuer_float", currency)


async def test_settlement_posts_the_hold(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    tx_id = await _approved(client, settings, buyer, 3_000)
    settled = event("transaction.cleared", tx_data(buyer, tx_id, 3_000), ago=2)
    answer = await send(client, settings, settled)
    assert (answer["duplicate"], answer["status"]) == (False, "processed")
    tx = await tx_row(db, tx_id)
    assert (tx.status, tx.settled_amount) == ("settled", 3_000)
    assert (await hold_row(db, tx.hold_id)).status == "posted"
    w = await wallet(db, buyer.client_id)
    assert (w.balance, w.reserved) == (7_000, 0)
    assert await _float(db) == 3_000
    row = await event_row(db, settled["id"])
    assert (row.status, row.attempts, row.event_type) == ("processed", 1, "transaction.cleared")
    assert row.lag_ms is not None
    assert row.lag_ms >= 2_000
    assert row.raw_body.startswith('{"id":')
    # The same event again: stored once, nothing more moves.
    again = await send(client, settings, settled)
    assert again["duplicate"] is True
    assert (await wallet(db, buyer.client_id)).balance == 7_000
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(IssuerEvent)) == 1
    await ledger_ok(db)


async def test_a_partial_settlement_releases_the_rest_and_the_spend(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    tx_id = await _approved(client, settings, buyer, 3_000)
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 2_000)))
    w = await wallet(db, buyer.client_id)
    assert (w.balance, w.reserved) == (8_000, 0)
    assert (await card_row(db, buyer.card_id)).spent_this_month == 2_000
    await ledger_ok(db)


async def test_settlement_with_the_fx_fee(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000, fx_fee_bps=200)  # 2 %
    tx_id = await _approved(
        client, settings, buyer, 5_000, merchant_amount=5_400, merchant_currency="USD"
    )
    assert (await wallet(db, buyer.client_id)).reserved == 5_100
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 5_000)))
    w = await wallet(db, buyer.client_id)
    assert (w.balance, w.reserved) == (4_900, 0)  # 50.00 + 1.00 fee
    assert await _float(db) == 5_000
    async with db.transaction() as session:
        assert await wallets.system_balance(session, "fee_revenue", "EUR") == 100
    assert (await tx_row(db, tx_id)).settled_amount == 5_100
    await ledger_ok(db)


async def test_a_settlement_beyond_the_hold_may_overdraw(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=1_000)
    tx_id = await _approved(client, settings, buyer, 1_000)
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 1_200)))
    assert (await wallet(db, buyer.client_id)).balance == -200
    assert (await card_row(db, buyer.card_id)).spent_this_month == 1_200
    await ledger_ok(db)


async def test_a_settlement_without_authorization_is_booked_explicitly(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=500)
    forced = event("transaction.cleared", tx_data(buyer, "tx_never_asked", 800))
    assert (await send(client, settings, forced))["status"] == "processed"
    tx = await tx_row(db, "tx_never_asked")
    assert (tx.status, tx.raw_code, tx.amount, tx.settled_amount, tx.hold_id) == (
        "settled",
        "forced_settlement",
        800,
        800,
        None,
    )
    assert (await wallet(db, buyer.client_id)).balance == -300  # the issuer has paid already
    assert (await card_row(db, buyer.card_id)).spent_this_month == 800
    async with db.transaction() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "card_transaction.forced_settlement" in actions
    # The late authorization of that purchase: approved (it is booked), no hold.
    body = authorization(buyer, 800, tx_id="tx_never_asked")
    assert (await authorize(client, settings, body))["approved"]
    assert (await wallet(db, buyer.client_id)).reserved == 0
    await ledger_ok(db)


async def test_reversal_and_expiry_void_the_hold(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    reversed_id = await _approved(client, settings, buyer, 1_000)
    expired_id = await _approved(client, settings, buyer, 2_000)
    reversal = event("authorization.reversed", tx_data(buyer, reversed_id, 1_000))
    await send(client, settings, reversal)
    await send(client, settings, event("authorization.expired", tx_data(buyer, expired_id, 2_000)))
    assert (await tx_row(db, reversed_id)).status == "reversed"
    assert (await tx_row(db, expired_id)).status == "expired"
    w = await wallet(db, buyer.client_id)
    assert (w.balance, w.reserved) == (10_000, 0)
    assert (await card_row(db, buyer.card_id)).spent_this_month == 0
    await ledger_ok(db)


async def test_refunds_credit_the_wallet_partially_and_once(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    tx_id = await _approved(client, settings, buyer, 3_000)
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 3_000)))
    first = event("transaction.refunded", tx_data(buyer, tx_id, 1_000, refund_id="r1"))
    await send(client, settings, first)
    await send(client, settings, first)  # a repeat
    resent = event("transaction.refunded", tx_data(buyer, tx_id, 1_000, refund_id="r1"))
    await send(client, settings, resent)  # the same refund under another event id
    await send(client, settings, event("transaction.refunded", tx_data(buyer, tx_id, 500)))
    tx = await tx_row(db, tx_id)
    assert (tx.status, tx.refunded_amount) == ("refunded", 1_500)
    assert (await wallet(db, buyer.client_id)).balance == 7_000 + 1_500
    # More than what is left is refused and kept as a failure.
    too_much = event("transaction.refunded", tx_data(buyer, tx_id, 2_000))
    assert (await send(client, settings, too_much))["status"] == "failed"
    assert "exceeds" in ((await event_row(db, too_much["id"])).error or "")
    await ledger_ok(db)


async def test_a_refund_before_its_settlement_waits_for_it(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    tx_id = await _approved(client, settings, buyer, 3_000)
    refund = event("transaction.refunded", tx_data(buyer, tx_id, 3_000))
    assert (await send(client, settings, refund))["status"] == "received"
    row = await event_row(db, refund["id"])
    assert (row.attempts, (row.error or "").startswith("waiting")) == (1, True)
    await send(client, settings, event("transaction.cleared", tx_data(buyer, tx_id, 3_000)))
    # The worker's pass, once the backoff has passed.
    assert await tasks.process_due(db, utcnow() + timedelta(seconds=3)) == 1
    assert (await event_row(db, refund["id"])).status == "processed"
    assert (await wallet(db, buyer.client_id)).balance == 10_000
    assert await tasks.process_due(db, utcnow() + timedelta(seconds=60)) == 0  # nothing left
    await ledger_ok(db)


async def test_an_issuer_decline_releases_our_hold_and_declines_the_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db, funds=10_000)
    tx_id = await _approved(client, settings, buyer, 1_000)
    await send(
        client,
        settings,
        event("authorization.declined", tx_data(buyer, tx_id, 1_000, response_code="59")),
    )
    tx = await tx_row(db, tx_id)
    assert (tx.status, tx.decline_reason, tx.raw_code) == ("declined", "suspected_fraud", "59")
    assert (await wallet(db, buyer.client_id)).reserved == 0
    # A purchase we never saw, declined for 3-D Secure: a row, and its code declined.
    from tests.card_transactions.conftest import code_rows

    otp = tx_data(buyer, "tx_3ds", 700, otp="654321", expires_at="2099-01-01T00:00:00Z")
    await send(client, settings, event("authentication.otp", otp))
    data = tx_data(buyer, "tx_3ds", 700, response_code="1A")
    await send(client, settings, event("authorization.declined", data))
    tx = await tx_row(db, "tx_3ds")
    assert (tx.status, tx.decline_reason) == ("declined", "3ds_failed")
    assert [c.status for c in await code_rows(db, buyer.client_id)] == ["declined"]


async def test_card_updates_follow_the_issuer(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    data = {"card_id": buyer.issuer_card_id, "status": "FROZEN"}
    await send(client, settings, event("card.status_changed", data))
    assert (await card_row(db, buyer.card_id)).status == "frozen"
    await send(client, settings, event("card.status_changed", {**data, "status": "CLOSED"}))
    card = await card_row(db, buyer.card_id)
    assert (card.status, card.closed_at is not None) == ("closed", True)


async def test_a_failing_event_is_kept_listed_and_replayable(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    unknown = event("card.status_changed", {"card_id": "card_not_yet_here", "status": "FROZEN"})
    assert (await send(client, settings, unknown))["status"] == "failed"
    await send(client, settings, event("transaction.cleared", tx_data(buyer, "tx_ok", 100)))
    failed = await admin_client.get("/api/v1/admin/issuer-events", params={"status": "failed"})
    assert failed.status_code == 200
    body = failed.json()
    assert body["pagination"]["total"] == 1
    [item] = body["data"]
    assert (item["event_id"], item["kind"], item["status"]) == (
        unknown["id"],
        "card.updated",
        "failed",
    )
    assert "unknown card" in item["error"]
    assert body["stats"]["failed_24h"] == 1
    assert body["stats"]["received_24h"] == 2
    assert body["stats"]["lag_p95_ms"] is not None
    everything = await admin_client.get("/api/v1/admin/issuer-events")
    assert everything.json()["pagination"]["total"] == 2
    stats = await admin_client.get("/api/v1/admin/issuer-events/stats")
    assert stats.json()["processed_24h"] == 1

    # The card turns up (the issuer was faster than us); the operator replays the event.
    async with db.transaction() as session:
        from paywarden.models import Card

        await session.execute(
            update(Card).where(Card.id == buyer.card_id).values(issuer_card_id="card_not_yet_here")
        )
    replayed = await admin_client.post(f"/api/v1/admin/issuer-events/{item['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("processed", 2)
    assert (await card_row(db, buyer.card_id)).status == "frozen"
    again = await admin_client.post(f"/api/v1/admin/issuer-events/{item['id']}/replay")
    assert (again.status_code, again.json()["code"]) == (409, "EVENT_ALREADY_PROCESSED")
    missing = await admin_client.post(
        "/api/v1/admin/issuer-events/00000000-0000-0000-0000-000000000000/replay"
    )
    assert missing.status_code == 404
    async with db.transaction() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "issuer_event.replay")
            )
        ).all()
    assert [(a.target_type, a.details["after"]) for a in audit] == [("issuer_event", "processed")]


async def test_an_event_waiting_too_long_is_marked_failed(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    refund = event("transaction.refunded", tx_data(buyer, "tx_never_settled", 100))
    await send(client, settings, refund)
    async with db.transaction() as session:
        await session.execute(
            update(IssuerEvent).values(attempts=inbox.MAX_ATTEMPTS - 1, status="received")
        )
    assert await tasks.process_due(db, utcnow() + timedelta(days=1)) == 0
    row = await event_row(db, refund["id"])
    assert (row.status, row.attempts) == ("failed", inbox.MAX_ATTEMPTS)
    # No more tries by the worker after that.
    assert await tasks.process_due(db, utcnow() + timedelta(days=2)) == 0
    assert (await event_row(db, refund["id"])).attempts == inbox.MAX_ATTEMPTS


async def test_webhooks_are_verified_on_the_raw_body(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await make_buyer(db)
    body = event("transaction.cleared", tx_data(buyer, "tx_x", 100))
    request = signed(settings, body)
    response = await client.post(
        WEBHOOKS, content=request["content"] + b" ", headers=request["headers"]
    )
    assert (response.status_code, response.json()["code"]) == (401, "INVALID_SIGNATURE")
    response = await client.post(WEBHOOKS, **signed(settings, {"type": "transaction.cleared"}))
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_BODY")
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(IssuerEvent)) == 0
        assert await session.scalar(select(func.count()).select_from(CardTransaction)) == 0
        kinds = (await session.scalars(select(LedgerTransaction.kind))).all()
    assert "card_spend" not in kinds
