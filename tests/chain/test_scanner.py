"""The chain scanner end to end: orders made over the merchant API, paid on a devnet served over
real HTTP, found by scanner passes through the real TronGrid client."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from paywarden import worker
from paywarden.chain import repository as chain_repo
from paywarden.chain.config import ScannerConfig
from paywarden.chain.service import PassResult
from paywarden.chain.tasks import next_pass_in
from paywarden.context import WorkerContext
from paywarden.kit.time import utcnow
from paywarden.models import DepositAddress, Order, ScannerState
from paywarden.orders import repository as orders_repo
from paywarden.tron.client import TronGridClient
from paywarden.tron.networks import network_for
from tests.chain.conftest import Chain, CountingTransport

USDT = 1_000_000


async def test_confirming_while_unsolidified_then_confirmed_with_a_webhook(chain: Chain) -> None:
    order = await chain.order("12.5")
    tx = await chain.pay(order["address"], 12_500_000)
    await chain.devnet.mine()  # block 1; solidified stays at 0 (depth 3)
    result = await chain.scan()
    assert result is not None
    assert result.stored == 1
    assert result.finalized == 0
    row = await chain.order_row(order["id"])
    assert row.status == "confirming"
    assert row.amount_received == 0
    [transfer] = await chain.transfers()
    assert (transfer.tx_hash, transfer.status, transfer.amount) == (tx, "seen", 12_500_000)
    assert transfer.order_id == row.id
    assert transfer.to_address == order["address"]
    assert transfer.from_address == chain.devnet.chain.customers[0].address
    assert await chain.webhook_types(order["id"]) == []

    await chain.devnet.mine(3)  # block 1 is solidified now
    result = await chain.scan()
    assert result is not None
    assert result.finalized == 1
    row = await chain.order_row(order["id"])
    assert row.status == "confirmed"
    assert row.amount_received == 12_500_000
    assert row.tx_hash == tx
    assert await chain.event_types(order["id"]) == ["created", "payment_seen", "confirmed"]
    assert await chain.webhook_types(order["id"]) == ["order.confirmed"]
    [transfer] = await chain.transfers()
    assert transfer.status == "final"
    assert transfer.finalized_at is not None

    detail = (await chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    out = detail["transaction"]  # the transfer that completed the order
    assert detail["transfers"] == [out]
    assert out["tx_hash"] == tx
    assert out["amount"] == "12.500000"
    assert out["from"] == chain.devnet.chain.customers[0].address
    assert out["block_number"] == 1
    assert out["status"] == "final"
    assert out["explorer_url"] == detail["meta"]["tx_explorer_base_url"] + tx
    stats = (await chain.api.get("/api/v1/admin/stats")).json()
    assert stats["total"]["total_received"] == "12.500000"
    assert stats["total"]["completed_count"] == 1

    # The merchant API shows it too.
    got = await chain.api.get(f"/api/v1/payments/{order['id']}", headers=chain.shop.headers)
    assert got.json()["status"] == "confirmed"


async def test_an_order_with_no_transfer_has_no_transaction(chain: Chain) -> None:
    order = await chain.order()
    await chain.devnet.mine()
    await chain.scan()
    detail = (await chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert detail["transaction"] is None
    assert detail["transfers"] == []


async def test_partial_payments_add_up(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 5 * USDT)
    await chain.devnet.mine(4)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("pending", 5 * USDT)
    events = await chain.events(order["id"])
    partial = [e for e in events if e.event_type == "partial_payment"]
    assert len(partial) == 1
    assert partial[0].payload["amount_received"] == "5.000000"
    assert partial[0].payload["remaining"] == "7.500000"
    assert await chain.webhook_types(order["id"]) == []
    # Not completed yet: the order's `transaction` is the latest transfer seen.
    detail = (await chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert detail["transaction"]["amount"] == "5.000000"
    assert detail["transfers"] == [detail["transaction"]]

    tx = await chain.pay(order["address"], 7_500_000)
    await chain.devnet.mine()
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirming", 5 * USDT)
    await chain.devnet.mine(3)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received, row.tx_hash) == ("confirmed", 12_500_000, tx)
    assert await chain.webhook_types(order["id"]) == ["order.confirmed"]
    # Completed: `transaction` is the transfer that completed it; `transfers` has both.
    detail = (await chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert detail["transaction"]["tx_hash"] == tx
    assert [t["amount"] for t in detail["transfers"]] == ["5.000000", "7.500000"]


async def test_two_transfers_in_one_block_count_both(chain: Chain) -> None:
    order = await chain.order("10")
    await chain.pay(order["address"], 4 * USDT)
    await chain.pay(order["address"], 6 * USDT)
    await chain.devnet.mine(4)
    result = await chain.scan()
    assert result is not None
    assert result.stored == 2
    assert result.finalized == 2
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 10 * USDT)


async def test_overpaid(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 20 * USDT)
    await chain.devnet.mine(4)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 20 * USDT)
    [overpaid] = [e for e in await chain.events(order["id"]) if e.event_type == "overpaid"]
    assert overpaid.payload["excess"] == "7.500000"
    async with chain.db.transaction() as session:
        totals = await orders_repo.totals(session)
    assert (totals.paid_count, totals.total_received) == (1, 20 * USDT)


async def test_underpaid_within_tolerance_confirms(chain: Chain) -> None:
    gateway = chain.app.state.gateway
    import dataclasses

    chain.app.state.gateway = dataclasses.replace(gateway, underpay_tolerance=10_000)  # 0.01
    order = await chain.order("12.5")
    await chain.pay(order["address"], 12_490_000)
    await chain.devnet.mine(4)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 12_490_000)


async def expire_now(chain: Chain, order_id: object) -> int:
    async with chain.db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(str(order_id)))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    return await worker.expire_orders(WorkerContext(db=chain.db, gateway=chain.gateway))


async def address_row(chain: Chain, address: str) -> DepositAddress:
    async with chain.db.transaction() as session:
        row = await session.scalar(select(DepositAddress).where(DepositAddress.address == address))
        assert row is not None
        return row


async def test_underpaid_at_expiry_keeps_its_address(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 5 * USDT)
    await chain.devnet.mine(4)
    await chain.scan()
    assert await expire_now(chain, order["id"]) == 1
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("expired", 5 * USDT)
    [underpaid] = [e for e in await chain.events(order["id"]) if e.event_type == "underpaid"]
    assert underpaid.payload["shortfall"] == "7.500000"
    assert await chain.webhook_types(order["id"]) == ["order.expired"]
    address = await address_row(chain, order["address"])
    assert (address.status, address.order_id) == ("allocated", row.id)


async def test_nothing_received_at_expiry_frees_the_address(chain: Chain) -> None:
    order = await chain.order("12.5")
    assert await expire_now(chain, order["id"]) == 1
    assert (await chain.order_row(order["id"])).status == "expired"
    assert (await address_row(chain, order["address"])).status == "free"


async def test_expiry_waits_for_a_seen_transfer(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 12_500_000)
    await chain.devnet.mine()
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirming"
    assert await expire_now(chain, order["id"]) == 0
    # Even a pending order waits while a transfer to it is not final.
    async with chain.db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == uuid.UUID(order["id"])).values(status="pending")
        )
    assert await expire_now(chain, order["id"]) == 0
    async with chain.db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == uuid.UUID(order["id"])).values(status="confirming")
        )
    await chain.devnet.mine(3)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 12_500_000)


async def test_a_reorg_drops_an_unsolidified_transfer(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 12_500_000)
    await chain.devnet.mine()
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirming"
    await chain.reorg(1)  # block 1 replaced by an empty one
    result = await chain.scan()
    assert result is not None
    assert result.dropped == 1
    [transfer] = await chain.transfers()
    assert transfer.status == "dropped"
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("pending", 0)
    assert await chain.event_types(order["id"]) == ["created", "payment_seen", "payment_dropped"]
    await chain.devnet.mine(5)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("pending", 0)
    assert (await chain.transfers())[0].status == "dropped"


async def test_a_reorg_that_reincludes_the_transfer_keeps_it(chain: Chain) -> None:
    order = await chain.order("12.5")
    await chain.pay(order["address"], 12_500_000)
    await chain.devnet.mine(2)
    await chain.scan()
    await chain.reorg(2, reinclude=True)  # the transfer moves to the new block 1
    await chain.devnet.mine()
    await chain.scan()
    [transfer] = await chain.transfers()
    assert transfer.status == "seen"
    assert (await chain.order_row(order["id"])).status == "confirming"
    await chain.devnet.mine(3)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 12_500_000)
    assert await chain.webhook_types(order["id"]) == ["order.confirmed"]


async def test_a_repeated_pass_counts_nothing_twice(chain: Chain) -> None:
    order = await chain.order("5")
    await chain.pay(order["address"], 2 * USDT)
    await chain.pay(order["address"], 1 * USDT)
    await chain.devnet.mine(4)
    await chain.scan()
    before = await chain.event_types(order["id"])
    result = await chain.scan()
    assert result is not None
    assert result.stored == 0
    assert result.finalized == 0
    # Even reading the same blocks again (a cursor set back by hand) changes nothing.
    async with chain.db.transaction() as session:
        await session.execute(update(ScannerState).values(last_block=-1, last_block_id=None))
    result = await chain.scan()
    assert result is not None
    assert result.blocks == 5
    assert result.stored == 0
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("pending", 3 * USDT)
    assert await chain.event_types(order["id"]) == before
    assert len(await chain.transfers()) == 2


async def test_a_restart_mid_window_misses_nothing(chain: Chain) -> None:
    first = await chain.order("3")
    second = await chain.order("4")
    await chain.pay(first["address"], 3 * USDT)
    await chain.devnet.mine()
    await chain.pay(second["address"], 4 * USDT)
    await chain.devnet.mine(2)  # head 3, solidified 0
    result = await chain.scan(batch_blocks=2)  # blocks 0..1: the first order's transfer
    assert result is not None
    assert result.stored == 1
    # A new scanner process: another client, the same database.
    async with TronGridClient([chain.devnet.url], max_rounds=1) as fresh:
        await chain.scan(fresh, batch_blocks=2)
        await chain.devnet.mine(3)
        await chain.scan(fresh, batch_blocks=2)
        await chain.scan(fresh, batch_blocks=2)
        await chain.scan(fresh, batch_blocks=2)
    for order, amount in ((first, 3 * USDT), (second, 4 * USDT)):
        row = await chain.order_row(order["id"])
        assert (row.status, row.amount_received) == ("confirmed", amount)
        assert (await chain.event_types(order["id"])).count("payment_seen") == 1
    assert len(await chain.transfers()) == 2
    async with chain.db.transaction() as session:
        state = await session.scalar(select(ScannerState))
    assert state is not None
    assert state.last_block == chain.devnet.chain.head.number


async def test_backfill_catches_up_pass_after_pass(chain: Chain) -> None:
    order = await chain.order("1")
    await chain.devnet.mine(7)
    await chain.pay(order["address"], 1 * USDT)
    await chain.devnet.mine(5)  # head 12, the transfer in block 8
    blocks = []
    while True:
        result = await chain.scan(batch_blocks=4)
        assert result is not None
        if not result.blocks:
            break
        blocks.append(result.blocks)
    assert blocks == [4, 4, 4, 1]  # blocks 0..12, none skipped
    assert (await chain.order_row(order["id"])).status == "confirmed"


async def test_orphan_and_late_payments_raise_incidents(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        free = await session.scalar(
            select(DepositAddress)
            .where(DepositAddress.status == "free")
            .order_by(DepositAddress.derivation_index.desc())  # not the next order's
            .limit(1)
        )
        assert free is not None
    orphan_tx = await chain.pay(free.address, 2 * USDT)
    order = await chain.order("1")
    await chain.pay(order["address"], 1 * USDT)
    await chain.devnet.mine(4)
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirmed"
    late_tx = await chain.pay(order["address"], 3 * USDT)
    await chain.devnet.mine()
    await chain.scan()
    incidents = await chain.incidents()
    by_type = {i.event_type: i for i in incidents}
    assert set(by_type) == {"orphan_payment", "late_payment"}
    orphan = by_type["orphan_payment"]
    assert orphan.payload["tx_hash"] == orphan_tx
    assert orphan.payload["amount"] == "2.000000"
    assert orphan.payload["address"] == free.address
    assert orphan.order_id is None
    late = by_type["late_payment"]
    assert late.payload["tx_hash"] == late_tx
    assert late.order_id == uuid.UUID(order["id"])
    assert "late_payment" in await chain.event_types(order["id"])
    # The late transfer, once final, counts on the paid order and in the rollup.
    await chain.devnet.mine(3)
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 4 * USDT)
    async with chain.db.transaction() as session:
        totals = await orders_repo.totals(session)
    assert totals.total_received == 4 * USDT
    transfers = await chain.transfers()
    assert {t.status for t in transfers} == {"final"}
    assert len(transfers) == 3


async def test_api_calls_grow_with_blocks_not_with_open_orders(chain: Chain) -> None:
    counting = CountingTransport()
    async with TronGridClient([chain.devnet.url], max_rounds=1, transport=counting) as client:
        await chain.order("1")
        await chain.scan(client)  # the first pass sets the cursor
        await chain.devnet.mine(5)
        await chain.scan(client)  # the cursor is above the solidified block from now on
        counting.paths.clear()
        await chain.devnet.mine(5)
        await chain.scan(client)
        few_orders = list(counting.paths)
        for _ in range(15):
            order = await chain.order("1")
            await chain.pay(order["address"], 1 * USDT)
        counting.paths.clear()
        await chain.devnet.mine(5)
        await chain.scan(client)
        many_orders = list(counting.paths)
    assert len(many_orders) == len(few_orders)
    # One call per block however many transfers it holds (the first block has 15).
    info_calls = [p for p in many_orders if p.endswith("/gettransactioninfobyblocknum")]
    assert len(info_calls) == 5
    async with chain.db.transaction() as session:
        paid = (await session.scalars(select(Order).where(Order.status == "confirmed"))).all()
    assert len(paid) == 15


async def test_the_worker_loop_scans_with_the_settings_client(chain: Chain) -> None:
    order = await chain.order("2")
    await chain.pay(order["address"], 2 * USDT)
    await chain.devnet.mine(4)
    ctx = WorkerContext(db=chain.db, gateway=chain.gateway)
    try:
        assert (await worker.scan_chain(ctx)).work > 0
    finally:
        assert ctx.tron is not None
        await ctx.tron.aclose()
    assert (await chain.order_row(order["id"])).status == "confirmed"
    wallet = (await chain.api.get("/api/v1/admin/wallet")).json()["system"]
    assert wallet["scanner_last_block"] == 4
    assert wallet["scanner_lag_blocks"] == 0
    await chain.devnet.mine(2)
    async with chain.db.transaction() as session:
        await session.execute(update(ScannerState).values(head_block=6))
    metrics = (await chain.api.get("/metrics")).text
    assert "paywarden_scanner_last_block 4.0" in metrics
    assert "paywarden_scanner_lag_blocks 2.0" in metrics


async def test_only_one_worker_scans_at_a_time(chain: Chain) -> None:
    """PostgreSQL: a second scanner skips its pass while another holds the scan lock (SQLite
    runs one worker, so there the pass just runs)."""
    if chain.db.is_sqlite:
        assert await chain.scan() is not None
        return
    order = await chain.order("1")
    await chain.pay(order["address"], 1 * USDT)
    await chain.devnet.mine(4)
    async with chain.db.transaction() as leader:
        assert await chain_repo.try_lead(leader)
        assert await chain.scan() is None  # the other worker leads
    result = await chain.scan()
    assert result is not None
    assert (await chain.order_row(order["id"])).status == "confirmed"


async def test_at_the_tip_a_block_costs_three_calls_and_an_idle_pass_one(chain: Chain) -> None:
    counting = CountingTransport()
    async with TronGridClient([chain.devnet.url], max_rounds=1, transport=counting) as client:
        await chain.devnet.mine(5)
        await chain.scan(client)
        for _ in range(3):
            order = await chain.order("1")
            await chain.pay(order["address"], 1 * USDT)
            await chain.devnet.mine()
            counting.paths.clear()
            result = await chain.scan(client)
            assert result is not None
            assert result.blocks == 1
            # The head's parent hash proves the cursor block: no call to look at it.
            assert [p.rsplit("/", 1)[-1] for p in counting.paths] == [
                "getnowblock",
                "getnowblock",
                "gettransactioninfobyblocknum",
            ]
        counting.paths.clear()
        assert await chain.scan(client) == PassResult(0, 0, 0, 0)
        # The head is the cursor block itself: nothing new, and nothing else to ask.
        assert [p.rsplit("/", 1)[-1] for p in counting.paths] == ["getnowblock"]


async def test_a_reorg_at_the_tip_is_seen_from_the_head_alone(chain: Chain) -> None:
    await chain.devnet.mine(4)
    await chain.scan()
    order = await chain.order("3")
    await chain.pay(order["address"], 3 * USDT)
    await chain.devnet.mine()
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirming"
    await chain.reorg(1)  # same height, another block: the payment is gone
    await chain.scan()
    [transfer] = await chain.transfers()
    assert transfer.status == "dropped"
    assert (await chain.order_row(order["id"])).status == "pending"


def test_the_next_pass_is_at_once_behind_and_when_the_block_is_due_at_the_tip() -> None:
    cfg = ScannerConfig(network=network_for("devnet", "http://x", None), trongrid_urls=("x",))
    assert cfg.block_seconds == 3.0
    behind = PassResult(200, 0, 0, 0, caught_up=False, head_timestamp=1_000_000)
    assert next_pass_in(behind, cfg, now=1_000.0) == 0
    at_tip = PassResult(1, 0, 0, 0, caught_up=True, head_timestamp=1_000_000)  # block at 1000 s
    assert next_pass_in(at_tip, cfg, now=1_000.5) == pytest.approx(2.8)  # due at 1003 + 0.3
    assert next_pass_in(at_tip, cfg, now=1_004.0) == cfg.interval_seconds  # late: keep polling
    assert next_pass_in(at_tip, cfg, now=900.0) == pytest.approx(3.3)  # our clock behind
    assert next_pass_in(None, cfg, now=1_000.0) == cfg.interval_seconds  # another leads
    on_demand = dataclasses.replace(cfg, block_seconds=None)
    assert next_pass_in(at_tip, on_demand, now=1_000.5) == cfg.interval_seconds
