"""The ledger's rules: balanced, idempotent, append-only, never below zero available, holds."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from paywarden.audit.context import Actor
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, LedgerAccount, LedgerPosting, LedgerTransaction
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import (
    AccountNotFound,
    HoldExceeded,
    HoldNotActive,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidPosting,
    Unbalanced,
)
from paywarden.wallets.service import Leg
from tests.wallets.conftest import create_client, credit


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _balances(db: Database, client_id: uuid.UUID) -> dict[str, tuple[int, int, int]]:
    async with db.transaction() as session:
        found = await wallets.balances(session, client_id)
    return {c: (b.balance, b.reserved, b.available) for c, b in found.items()}


async def test_a_top_up_posts_both_legs_and_moves_the_cached_balances(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        entry = await credit(session, client, "USD", 12_34, "order:1:confirmed")
    assert entry.replayed is False
    assert await _balances(ledger, client) == {"EUR": (0, 0, 0), "USD": (1234, 0, 1234)}
    async with ledger.transaction() as session:
        assert await wallets.system_balance(session, "usdt_received", "USD") == -1234
        postings = (
            await session.scalars(
                select(LedgerPosting).where(LedgerPosting.transaction_id == entry.id)
            )
        ).all()
        assert sorted(p.amount for p in postings) == [-1234, 1234]
        assert (await wallets.check(session)).ok


async def test_a_replayed_key_credits_once(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        first = await credit(session, client, "USD", 500, "order:42:confirmed")
    for _ in range(3):
        async with ledger.transaction() as session:
            again = await credit(session, client, "USD", 500, "order:42:confirmed")
        assert again.replayed is True
        assert again.id == first.id
    assert (await _balances(ledger, client))["USD"] == (500, 0, 500)
    assert await _count(ledger, LedgerTransaction) == 1
    assert await _count(ledger, LedgerPosting) == 2
    async with ledger.transaction() as session:
        with pytest.raises(IdempotencyKeyReused):
            await credit(session, client, "USD", 500, "order:42:confirmed", kind="demo")


async def test_unbalanced_or_malformed_legs_write_nothing(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        eur = await wallets.wallet(session, client, "EUR")
        usd = await wallets.wallet(session, client, "USD")
        fees = await wallets.system_account(session, "fee_revenue", "EUR")
    cases: list[tuple[list[Leg], type[Exception]]] = [
        ([Leg(eur, "EUR", 100), Leg(fees, "EUR", -99)], Unbalanced),
        ([Leg(eur, "EUR", 100), Leg(fees, "USD", -100)], Unbalanced),
        ([Leg(eur, "EUR", 100)], InvalidPosting),
        ([Leg(eur, "EUR", 0), Leg(fees, "EUR", 0)], InvalidPosting),
        ([Leg(usd, "EUR", 100), Leg(fees, "EUR", -100)], InvalidPosting),  # a USD account
        ([Leg(uuid.uuid4(), "EUR", 100), Leg(fees, "EUR", -100)], AccountNotFound),
    ]
    for legs, error in cases:
        async with ledger.transaction() as session:
            with pytest.raises(error):
                await wallets.post(session, "adjustment", f"k-{uuid.uuid4()}", legs)
    async with ledger.transaction() as session:
        with pytest.raises(InvalidPosting):
            await wallets.post(session, "gift", "k", [Leg(eur, "EUR", 1), Leg(fees, "EUR", -1)])
        with pytest.raises(InvalidPosting):
            await wallets.wallet(session, client, "USDT")
    assert await _count(ledger, LedgerTransaction) == 0
    with pytest.raises(Unbalanced) as caught:
        wallets._validate("fx", [Leg(eur, "EUR", 5), Leg(fees, "EUR", -4)], False)
    assert caught.value.code == "LEDGER_UNBALANCED"
    assert "EUR +1" in caught.value.message


async def test_a_wallet_never_goes_below_zero_available(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "EUR", 1000)
        wallet = await wallets.wallet(session, client, "EUR")
        fees = await wallets.system_account(session, "fee_revenue", "EUR")
    async with ledger.transaction() as session:
        with pytest.raises(InsufficientFunds) as caught:
            await wallets.post(
                session,
                "subscription_fee",
                "fee-1",
                [Leg(wallet, "EUR", -1001), Leg(fees, "EUR", 1001)],
            )
    assert (caught.value.status, caught.value.code) == (409, "INSUFFICIENT_FUNDS")
    async with ledger.transaction() as session:
        hold = await wallets.place_hold(session, wallet, 600)
    async with ledger.transaction() as session:  # 1000 - 600 held: 400 available
        with pytest.raises(InsufficientFunds):
            await wallets.post(
                session,
                "subscription_fee",
                "fee-2",
                [Leg(wallet, "EUR", -401), Leg(fees, "EUR", 401)],
            )
        await wallets.post(
            session, "subscription_fee", "fee-3", [Leg(wallet, "EUR", -400), Leg(fees, "EUR", 400)]
        )
    assert (await _balances(ledger, client))["EUR"] == (600, 600, 0)
    async with ledger.transaction() as session:
        await wallets.void_hold(session, hold.id)
    assert (await _balances(ledger, client))["EUR"] == (600, 0, 600)


async def test_only_an_adjustment_may_go_negative_and_only_when_asked(ledger: Database) -> None:
    client = await create_client(ledger)
    operator = Actor(label="ops@example.com")
    async with ledger.transaction() as session:
        with pytest.raises(InsufficientFunds):
            await wallets.adjust(
                session, client, "USD", -100, idempotency_key="adj-1", actor=operator
            )
    async with ledger.transaction() as session:
        with pytest.raises(InvalidPosting):
            await wallets.adjust(
                session,
                client,
                "USD",
                -100,
                idempotency_key="adj-2",
                actor=operator,
                kind="demo",
                allow_negative=True,
            )
    async with ledger.transaction() as session:
        entry = await wallets.adjust(
            session,
            client,
            "USD",
            -100,
            idempotency_key="adj-3",
            actor=operator,
            note="chargeback correction",
            allow_negative=True,
        )
    assert (await _balances(ledger, client))["USD"] == (-100, 0, -100)
    async with ledger.transaction() as session:
        audit = (await session.scalars(select(AuditEntry))).all()
        tx = await session.get(LedgerTransaction, entry.id)
    assert [(a.action, a.target_type, a.target_id) for a in audit] == [
        ("ledger.adjustment", "client", str(client))
    ]
    assert tx is not None
    assert (tx.note, tx.actor) == ("chargeback correction", "ops@example.com")


async def test_holds_place_post_up_to_the_amount_and_void(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "USD", 10_000)
        wallet = await wallets.wallet(session, client, "USD")
        issuer = await wallets.system_account(session, "issuer_float", "USD")
    async with ledger.transaction() as session:
        with pytest.raises(InsufficientFunds):
            await wallets.place_hold(session, wallet, 10_001)
        with pytest.raises(InvalidPosting):
            await wallets.place_hold(session, issuer, 1)
        with pytest.raises(InvalidPosting):
            await wallets.place_hold(session, wallet, 0)
    async with ledger.transaction() as session:
        hold = await wallets.place_hold(
            session, wallet, 7_000, reference_type="card", reference_id="card-1"
        )
    assert (await _balances(ledger, client))["USD"] == (10_000, 7_000, 3_000)

    async with ledger.transaction() as session:
        with pytest.raises(HoldExceeded):
            await wallets.post_hold(
                session, hold.id, 7_001, issuer, kind="card_spend", idempotency_key="spend-1"
            )
    async with ledger.transaction() as session:
        entry = await wallets.post_hold(
            session, hold.id, 6_500, issuer, kind="card_spend", idempotency_key="spend-1"
        )
    assert (await _balances(ledger, client))["USD"] == (3_500, 0, 3_500)
    async with ledger.transaction() as session:  # a replay of the settlement: nothing new
        again = await wallets.post_hold(
            session, hold.id, 6_500, issuer, kind="card_spend", idempotency_key="spend-1"
        )
        assert (again.id, again.replayed) == (entry.id, True)
        with pytest.raises(HoldNotActive):
            await wallets.post_hold(
                session, hold.id, 1, issuer, kind="card_spend", idempotency_key="spend-2"
            )
        with pytest.raises(HoldNotActive):
            await wallets.void_hold(session, hold.id)
    async with ledger.transaction() as session:
        closed = await wallets.void_hold(session, (await wallets.place_hold(session, wallet, 5)).id)
        assert closed.status == "voided"
        assert (await wallets.void_hold(session, closed.id)).status == "voided"
    async with ledger.transaction() as session:
        report = await wallets.check(session)
        assert await wallets.system_balance(session, "issuer_float", "USD") == 6_500
    assert report.ok, report.lines()


async def test_a_hold_may_be_posted_in_full_when_nothing_else_is_available(
    ledger: Database,
) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "EUR", 300)
        wallet = await wallets.wallet(session, client, "EUR")
        issuer = await wallets.system_account(session, "issuer_float", "EUR")
        hold = await wallets.place_hold(session, wallet, 300)
    async with ledger.transaction() as session:
        await wallets.post_hold(
            session, hold.id, 300, issuer, kind="card_spend", idempotency_key="all"
        )
    assert (await _balances(ledger, client))["EUR"] == (0, 0, 0)


async def test_transactions_and_postings_are_append_only(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "USD", 100)
    for statement in (
        update(LedgerPosting).values(amount=1),
        delete(LedgerPosting),
        update(LedgerTransaction).values(note="edited"),
        delete(LedgerTransaction),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with ledger.transaction() as session:
                await session.execute(statement)
    assert await _count(ledger, LedgerPosting) == 2


async def test_check_finds_differences_and_the_rebuild_fixes_balances(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "USD", 700)
        wallet = await wallets.wallet(session, client, "USD")
    async with ledger.transaction() as session:
        await session.execute(
            update(LedgerAccount).where(LedgerAccount.id == wallet).values(balance=900)
        )
    async with ledger.transaction() as session:
        report = await wallets.check(session)
    assert not report.ok
    assert [(b.account_id, b.cached, b.computed) for b in report.balances] == [(wallet, 900, 700)]
    assert "difference +200" in report.lines()[0]
    async with ledger.transaction() as session:
        fixed = await wallets.rebuild_balances(session, Actor(label="cli"))
    assert [b.account_id for b in fixed] == [wallet]
    async with ledger.transaction() as session:
        assert (await wallets.check(session)).ok
        audit = (await session.scalars(select(AuditEntry))).all()
    assert [(a.actor, a.action, a.details["cached"], a.details["computed"]) for a in audit] == [
        ("cli", "ledger.rebuild_balance", 900, 700)
    ]
    assert (await _balances(ledger, client))["USD"] == (700, 0, 700)


async def test_check_finds_an_unbalanced_transaction(ledger: Database) -> None:
    client = await create_client(ledger)
    async with ledger.transaction() as session:
        entry = await credit(session, client, "USD", 700)
        wallet = await wallets.wallet(session, client, "USD")
    async with ledger.transaction() as session:  # inserting is allowed: a stray extra leg
        session.add(
            LedgerPosting(transaction_id=entry.id, account_id=wallet, currency="USD", amount=5)
        )
    async with ledger.transaction() as session:
        report = await wallets.check(session)
    assert report.unbalanced == [(entry.id, "USD", 5)]
    assert any("unbalanced transaction" in line for line in report.lines())
