"""The reconciliation on a consistent world (no difference), then on copies of it with one kind
of row corrupted at a time: the right difference, naming the right rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select, update

from paywarden.models import (
    ChainTransfer,
    Incident,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Order,
    Sweep,
    Topup,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from paywarden.models.treasury import IssuerBalance
from paywarden.reconcile import chain_walk
from paywarden.reconcile import repository as repo
from paywarden.reconcile.books import plan_fee
from paywarden.topups.service import credit_for
from tests.reconcile.conftest import USDT, World, world  # noqa: F401 - fixtures


async def test_a_consistent_world_has_no_difference(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = await world.reconcile()
    # The same in pages of 2 rows and chunks of 3 blocks: every page boundary is crossed.
    monkeypatch.setattr(repo, "PAGE", 2)
    monkeypatch.setattr(chain_walk, "CHUNK", 3)
    report = await world.reconcile()
    assert [(c.name, c.checked) for c in report.checks] == [
        (c.name, c.checked) for c in whole.checks
    ]
    assert report.differences == [], report.differences
    assert report.ok
    checked = {c.name: c.checked for c in report.checks}
    # 8 final transfers: 5 orders' payments, the late one, 2 orphans (one after a sweep).
    assert checked["transfer_owners"] == 8
    assert (checked["orders"], checked["sweeps"], checked["topups"]) == (5, 4, 1)
    assert checked["chain_transfers"] > 0
    assert checked["ledger"] > 0
    # The orphan payment after a sweep stays on its address (nothing sweeps it): a note.
    exact = await world.chain.order_row(world.orders["exact"])
    notes = [(n.kind, n.ids, n.actual) for c in report.checks for n in c.notes]
    assert notes == [("funds_after_sweep", {"address": exact.address}, "1.000000")]


def _kinds(report: object) -> set[tuple[str, str]]:
    """(kind, the first id) of each difference."""
    return {(d.kind, next(iter(d.ids.values()))) for d in report.differences}  # type: ignore[attr-defined]


async def _transfer_of(w: World, order: str) -> ChainTransfer:
    async with w.chain.db.transaction() as session:
        row = await session.scalar(
            select(ChainTransfer)
            .where(ChainTransfer.order_id == w.orders[order])
            .order_by(ChainTransfer.block_number)
            .limit(1)
        )
        assert row is not None
        return row


async def _sweep_of(w: World, order: str) -> Sweep:
    async with w.chain.db.transaction() as session:
        row = await session.scalar(select(Sweep).where(Sweep.order_id == w.orders[order]))
        assert row is not None
        return row


async def _topup(w: World) -> Topup:
    async with w.chain.db.transaction() as session:
        row = await session.get(Topup, w.topup_id)
        assert row is not None
        return row


async def amount_received(w: World) -> set[tuple[str, str]]:
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == w.orders["over"]).values(amount_received=9 * USDT)
        )
    return {("order_amount_mismatch", str(w.orders["over"]))}


async def status(w: World) -> set[tuple[str, str]]:
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == w.orders["partial"]).values(status="confirmed")
        )
    partial = str(w.orders["partial"])
    return {("order_status_mismatch", partial), ("webhook_event_missing", partial)}


async def deleted_transfer(w: World) -> set[tuple[str, str]]:
    row = await _transfer_of(w, "exact")
    async with w.chain.db.transaction() as session:
        await session.execute(delete(ChainTransfer).where(ChainTransfer.id == row.id))
    return {
        ("transfer_missing", row.tx_hash),
        ("order_amount_mismatch", str(w.orders["exact"])),
        ("unswept_funds", row.to_address),  # its sweep took more than arrived, as stored
    }


async def transfer_amount(w: World) -> set[tuple[str, str]]:
    row = await _transfer_of(w, "partial")
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(ChainTransfer).where(ChainTransfer.id == row.id).values(amount=5 * USDT)
        )
    # The order's amount_received still says what the chain says: only the row is wrong.
    return {
        ("transfer_mismatch", row.tx_hash),
        ("order_amount_mismatch", str(w.orders["partial"])),
    }


async def invented_transfer(w: World) -> set[tuple[str, str]]:
    real = await _transfer_of(w, "exact")
    fake = uuid.uuid4()
    async with w.chain.db.transaction() as session:
        await session.execute(
            insert(ChainTransfer).values(
                id=fake,
                tx_hash="ab" * 32,
                event_index=0,
                block_number=real.block_number,
                block_timestamp=real.block_timestamp,
                from_address=real.from_address,
                to_address=real.to_address,
                amount=USDT,
                order_id=None,
                deposit_address_id=real.deposit_address_id,
                status="final",
                created_at=real.created_at,
            )
        )
    return {
        ("transfer_not_on_chain", str(fake)),
        ("transfer_unowned", str(fake)),
        ("unswept_funds", real.to_address),
    }


async def orphan_incident(w: World) -> set[tuple[str, str]]:
    async with w.chain.db.transaction() as session:
        await session.execute(delete(Incident).where(Incident.event_type == "orphan_payment"))
        orphan = await session.scalar(
            select(ChainTransfer.id).where(ChainTransfer.tx_hash == w.orphan_tx)
        )
        after = await session.scalar(
            select(ChainTransfer.id).where(ChainTransfer.tx_hash == w.after_sweep_tx)
        )
    return {("transfer_unowned", str(orphan)), ("transfer_unowned", str(after))}


async def webhook_event(w: World) -> set[tuple[str, str]]:
    async with w.chain.db.transaction() as session:
        event = await session.scalar(
            select(WebhookEvent.id).where(
                WebhookEvent.order_id == w.orders["exact"], WebhookEvent.type == "order.confirmed"
            )
        )
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id == event)
        await session.execute(
            delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries))
        )
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id == event))
        await session.execute(delete(WebhookEvent).where(WebhookEvent.id == event))
    return {("webhook_event_missing", str(w.orders["exact"]))}


async def sweep_amount(w: World) -> set[tuple[str, str]]:
    sweep = await _sweep_of(w, "over")
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(Sweep).where(Sweep.id == sweep.id).values(amount=(sweep.amount or 0) - 1)
        )
    # The address's sums no longer meet its balance either.
    return {("sweep_amount_mismatch", str(sweep.id)), ("unswept_funds", sweep.address)}


async def sweep_tx(w: World) -> set[tuple[str, str]]:
    sweep = await _sweep_of(w, "expired")
    settlement = {**(sweep.settlement or {}), "tx_hash": "cd" * 32}
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(Sweep).where(Sweep.id == sweep.id).values(settlement=settlement)
        )
    return {("sweep_tx_missing", str(sweep.id))}


async def unswept(w: World) -> set[tuple[str, str]]:
    """A payment on the chain that the scanner never stored: missing, and left on a swept
    address that no sweep covers."""
    over = await w.chain.order_row(w.orders["over"])
    tx = await w.chain.pay(over.address, 2 * USDT)
    await w.chain.devnet.mine(1 + w.chain.devnet.chain.solidify_depth)
    async with w.chain.db.transaction() as session:  # the scanner's cursor, moved by hand
        from paywarden.models import ScannerState

        state = (await session.scalars(select(ScannerState))).one()
        head = len(w.chain.devnet.chain.blocks) - 1
        state.last_block = head
        state.last_block_id = None
        state.solidified_block = head - w.chain.devnet.chain.solidify_depth
    return {("transfer_missing", tx), ("unswept_funds", over.address)}


async def duplicate_credit(w: World) -> set[tuple[str, str]]:
    topup = await _topup(w)
    async with w.chain.db.transaction() as session:
        original = await session.get(LedgerTransaction, topup.transaction_id)
        assert original is not None
        again = LedgerTransaction(
            id=uuid.uuid4(),
            kind="topup",
            idempotency_key=f"topup:{topup.order_id}:again",
            reference_type="order",
            reference_id=str(topup.order_id),
        )
        session.add(again)
        await session.flush()
        legs = await session.scalars(
            select(LedgerPosting).where(LedgerPosting.transaction_id == original.id)
        )
        for leg in legs.all():
            session.add(
                LedgerPosting(
                    transaction_id=again.id,
                    account_id=leg.account_id,
                    currency=leg.currency,
                    amount=leg.amount,
                )
            )
    # The cached balances did not move with the copied postings: the ledger check says so too.
    return {("topup_credit_count", str(topup.id))}


async def cached_balance(w: World) -> set[tuple[str, str]]:
    async with w.chain.db.transaction() as session:
        account = await session.scalar(
            select(LedgerAccount).where(LedgerAccount.kind == "client", LedgerAccount.balance > 0)
        )
        assert account is not None
        account.balance += 1
    return {("ledger_balance", str(account.id))}


async def extra_leg(w: World) -> set[tuple[str, str]]:
    """A posting slipped into the credit (postings cannot be updated: the database refuses)."""
    topup = await _topup(w)
    async with w.chain.db.transaction() as session:
        fee = await session.scalar(
            select(LedgerPosting).where(
                LedgerPosting.transaction_id == topup.transaction_id,
                LedgerPosting.currency == "USD",
                LedgerPosting.amount == topup.fee_cents,
            )
        )
        assert fee is not None
        session.add(
            LedgerPosting(
                transaction_id=topup.transaction_id,
                account_id=fee.account_id,
                currency="USD",
                amount=5,
            )
        )
    return {
        ("ledger_unbalanced", str(topup.transaction_id)),
        ("ledger_balance", str(fee.account_id)),
        ("topup_postings_mismatch", str(topup.id)),
    }


async def topup_fee(w: World) -> set[tuple[str, str]]:
    topup = await _topup(w)
    async with w.chain.db.transaction() as session:
        await session.execute(
            update(Topup)
            .where(Topup.id == topup.id)
            .values(
                fee_cents=(topup.fee_cents or 0) - 1, credited_cents=(topup.credited_cents or 0) + 1
            )
        )
    return {("topup_fee_mismatch", str(topup.id)), ("topup_postings_mismatch", str(topup.id))}


CORRUPTIONS: dict[str, Callable[[World], Awaitable[set[tuple[str, str]]]]] = {
    f.__name__: f
    for f in (
        amount_received,
        status,
        deleted_transfer,
        transfer_amount,
        invented_transfer,
        orphan_incident,
        webhook_event,
        sweep_amount,
        sweep_tx,
        unswept,
        duplicate_credit,
        cached_balance,
        extra_leg,
        topup_fee,
    )
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
async def test_each_corruption_is_reported(world: World, corrupt: str) -> None:  # noqa: F811
    expected = await CORRUPTIONS[corrupt](world)
    report = await world.reconcile()
    assert not report.ok
    found = _kinds(report)
    assert expected <= found, (expected, report.differences)
    if corrupt != "duplicate_credit":  # that one also unbalances the cached balances
        assert found == expected, report.differences


def test_the_fee_rule_is_the_top_ups_own() -> None:
    for received in (1, 999_999, 40_500_000, 123_456_789):
        for bps in (0, 1, 100, 250, 10_000):
            credit = credit_for(received, Decimal("1"), bps)
            assert plan_fee(credit.gross, bps) == credit.fee


async def test_the_issuer_float_is_a_note_not_a_failure(world: World) -> None:  # noqa: F811
    async with world.chain.db.transaction() as session:
        session.add(
            IssuerBalance(issuer="sandbox", currency="EUR", amount=99_999_00, checked_at=None)
        )
    report = await world.reconcile()
    assert report.ok
    (note,) = [n for c in report.checks for n in c.notes if n.kind == "issuer_float"]
    assert note.actual["available"] == 99_999_00
    assert note.actual["implied_funding"] == 99_999_00  # no card spend in this world
