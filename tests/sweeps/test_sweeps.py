"""Sweeps end to end on the devnet: real keys, real signatures, real fees."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from sqlalchemy import select

from paywarden.models import AuditEntry, DepositAddress, Incident
from paywarden.tron import crypto
from tests.sweeps.conftest import COLD, HOT, HOT_KEY, SUN, Sweeps

USDT = 1_000_000


async def test_burn_sweep_moves_everything_to_the_cold_wallet(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("12.5")
    address = order["address"]
    # The job was written with the confirmation.
    [job] = await sweeps.sweeps(order["id"])
    assert (job.status, job.step, job.address) == ("waiting", "check", address)
    hot_before = await sweeps.devnet.trx(HOT)

    [done] = await sweeps.run()

    assert done.status == "done"
    assert done.mode == "burn"
    assert sweeps.devnet.chain.usdt_balance(COLD) == 12_500_000
    assert sweeps.devnet.chain.usdt_balance(address) == 0
    [funding] = sweeps.txs("TransferContract", owner=HOT)
    assert funding["to_address"] == address
    [transfer] = sweeps.txs("TriggerSmartContract", owner=address)
    assert transfer["result"] == "SUCCESS"
    assert transfer["txid"] == done.transfer_txid
    # The hot wallet paid the funding (amount and its own bandwidth/activation burn), no more.
    hot_spent = hot_before - await sweeps.devnet.trx(HOT)
    assert hot_spent == funding["amount"] + funding["fee"]
    # The fee is what the chain burned: the funding's activation + the transfer's energy.
    assert done.fee_sun == funding["fee"] + transfer["fee"]
    energy = transfer["receipt"]["energy_usage_total"]
    assert transfer["receipt"]["energy_fee"] == energy * 100
    # Just enough TRX (a small margin stays on the address for next time).
    left = await sweeps.devnet.trx(address)
    assert 0 < left <= funding["amount"] // 50 + SUN // 10

    detail = (await sweeps.chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    settlement = detail["settlement"]
    assert settlement == {
        "tx_hash": transfer["txid"],
        "amount": "12.500000",
        "fee_trx": f"{done.fee_sun // SUN}.{done.fee_sun % SUN:06d}",
        "funding_tx_hash": funding["txid"],
        "mode": "burn",
        "swept_at": settlement["swept_at"],
    }
    assert settlement["swept_at"].endswith("Z")
    assert [e["event_type"] for e in detail["events"]][-1] == "swept"
    # The address goes back to the pool (after the reuse cooldown).
    async with sweeps.chain.db.transaction() as session:
        row = await session.scalar(select(DepositAddress).where(DepositAddress.address == address))
        assert row is not None
        assert (row.status, row.order_id) == ("free", None)
    wallet = (await sweeps.chain.api.get("/api/v1/admin/wallet")).json()
    assert wallet["sweep_queue"] == {"waiting": 0, "active": 0, "failed": 0}


async def test_a_second_sweep_of_the_same_address_uses_the_leftover(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("20")
    await sweeps.run()
    # A late payment to the swept address, swept by hand through a new job.
    async with sweeps.chain.db.transaction() as session:
        from paywarden.models import Order
        from paywarden.sweeps import service

        row = await session.get(Order, uuid.UUID(order["id"]))
        assert row is not None
        assert await service.enqueue(session, row) is not None
        # One sweep at a time per address.
        assert await service.enqueue(session, row) is None
    await sweeps.chain.pay(order["address"], 5 * USDT)
    await sweeps.devnet.mine()
    rows = await sweeps.run()
    assert [r.status for r in rows] == ["done", "done"]
    assert sweeps.devnet.chain.usdt_balance(COLD) == 25 * USDT
    assert len(sweeps.txs("TransferContract", owner=HOT)) == 2


@pytest.mark.parametrize("sweep_mode", ["delegate"])
async def test_delegate_mode_lends_energy_and_takes_it_back(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("40")
    address = order["address"]
    hot_before = await sweeps.devnet.trx(HOT)

    [done] = await sweeps.run()

    assert (done.status, done.mode) == ("done", "delegate")
    assert sweeps.devnet.chain.usdt_balance(COLD) == 40 * USDT
    assert sweeps.devnet.chain.usdt_balance(address) == 0
    # Activation only: the smallest TRX transfer (its fee is the activation).
    [funding] = sweeps.txs("TransferContract", owner=HOT)
    assert (funding["to_address"], funding["amount"]) == (address, 1)
    [lent] = sweeps.txs("DelegateResourceContract", owner=HOT)
    [back] = sweeps.txs("UnDelegateResourceContract", owner=HOT)
    assert lent["balance"] == back["balance"]
    assert lent["receiver_address"] == back["receiver_address"] == address
    [transfer] = sweeps.txs("TriggerSmartContract", owner=address)
    # The transfer burned no TRX for energy: the delegated energy paid.
    assert transfer["result"] == "SUCCESS"
    assert "energy_fee" not in transfer["receipt"]
    assert transfer["fee"] == 0
    # The hot wallet is whole again but for the activation and bandwidth.
    spent = hot_before - await sweeps.devnet.trx(HOT)
    assert spent == 1 + funding["fee"] + lent["fee"] + back["fee"]
    assert done.fee_sun == funding["fee"] + lent["fee"] + back["fee"]
    assert done.delegated_sun == 0
    account = sweeps.devnet.chain.account(HOT)
    assert account is not None
    assert account.energy_delegated_out == {}
    detail = (await sweeps.chain.api.get(f"/api/v1/admin/orders/{order['id']}")).json()
    assert detail["settlement"]["mode"] == "delegate"
    assert detail["settlement"]["funding_tx_hash"] == funding["txid"]


async def test_killed_after_funding_resumes_without_a_second_funding(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("30")

    class Killed(Exception):
        pass

    async def die_before_the_transfer(sweep: object) -> None:
        if getattr(sweep, "step", None) == "transfer":
            raise Killed()

    dying = sweeps.fresh_sweeper(on_saved=die_before_the_transfer)
    try:
        await sweeps.run(dying)
    except Killed:
        pass
    else:
        raise AssertionError("the worker was not killed")
    [job] = await sweeps.sweeps()
    assert (job.status, job.step) == ("active", "transfer")
    assert job.fund_txid is not None
    assert len(sweeps.txs("TransferContract", owner=HOT)) == 1
    assert sweeps.txs("TriggerSmartContract", owner=order["address"]) == []

    # Another worker, once the dead one's lease has run out.
    await sweeps.expire_leases()
    [done] = await sweeps.run(sweeps.fresh_sweeper())
    assert done.status == "done"
    assert len(sweeps.txs("TransferContract", owner=HOT)) == 1
    assert len(sweeps.txs("TriggerSmartContract", owner=order["address"])) == 1
    assert sweeps.devnet.chain.usdt_balance(COLD) == 30 * USDT


async def test_killed_between_storing_and_broadcasting_sends_the_stored_tx(
    sweeps: Sweeps,
) -> None:
    await sweeps.confirmed_order("30")

    class Killed(Exception):
        pass

    async def die_after_storing(sweep: object) -> None:
        if getattr(sweep, "step", None) == "fund" and getattr(sweep, "fund_txid", None):
            raise Killed()

    with contextlib.suppress(Killed):
        await sweeps.run(sweeps.fresh_sweeper(on_saved=die_after_storing))
    [job] = await sweeps.sweeps()
    assert (job.step, job.status) == ("fund", "active")
    stored = job.fund_txid
    assert sweeps.txs("TransferContract", owner=HOT) == []  # never left

    await sweeps.expire_leases()
    [done] = await sweeps.run(sweeps.fresh_sweeper())
    [funding] = sweeps.txs("TransferContract", owner=HOT)
    assert funding["txid"] == stored == done.fund_txid
    assert done.status == "done"


async def test_a_rebroadcast_of_a_sent_tx_is_not_a_second_funding(sweeps: Sweeps) -> None:
    """Killed after the broadcast but before recording it: the stored tx is already on its way
    (DUP_TRANSACTION_ERROR, or found on chain), never a new one."""
    await sweeps.confirmed_order("30")

    class Killed(Exception):
        pass

    async def die_after_sending(sweep: object) -> None:
        if getattr(sweep, "step", None) == "fund_wait":
            raise Killed()

    with contextlib.suppress(Killed):
        await sweeps.run(sweeps.fresh_sweeper(on_saved=die_after_sending))
    # Put it back one step, as if the crash came before step=fund_wait was committed.
    async with sweeps.chain.db.transaction() as session:
        from paywarden.models import Sweep

        row = (await session.scalars(select(Sweep))).one()
        row.step = "fund"
    await sweeps.expire_leases()
    [done] = await sweeps.run(sweeps.fresh_sweeper())
    assert done.status == "done"
    assert len(sweeps.txs("TransferContract", owner=HOT)) == 1


async def test_a_balance_under_the_minimum_waits(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("0.5")
    await sweeps.sweeper.run_pass(sweeps.chain.db, sweeps.devnet.client)
    [job] = await sweeps.sweeps(order["id"])
    assert (job.status, job.step) == ("waiting", "check")
    assert job.next_run_at > job.updated_at
    assert sweeps.txs("TransferContract", owner=HOT) == []
    wallet = (await sweeps.chain.api.get("/api/v1/admin/wallet")).json()
    assert wallet["sweep_queue"] == {"waiting": 1, "active": 0, "failed": 0}


async def test_a_failed_step_raises_an_incident_and_retry_resumes_it(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("12.5")
    # Drain the hot wallet: it cannot fund.
    drain = sweeps.devnet.chain
    hot_balance = await sweeps.devnet.trx(HOT)
    tx = drain.build(
        "TransferContract",
        {
            "owner_address": crypto.to_hex(HOT),
            "to_address": crypto.to_hex(drain.treasury.address),
            "amount": hot_balance - SUN // 2,
        },
    )
    key = crypto.KeyPair.from_secret(bytes.fromhex(HOT_KEY))
    drain.broadcast(drain.sign(tx, key))
    await sweeps.devnet.mine()

    [failed] = await sweeps.run()
    assert failed.status == "failed"
    assert failed.failed_step == "fund"
    assert failed.step == "fund"
    async with sweeps.chain.db.transaction() as session:
        [incident] = (
            await session.scalars(select(Incident).where(Incident.event_type == "sweep_failed"))
        ).all()
    assert set(incident.payload) == {"reason", "step"}
    assert incident.payload["step"] == "fund"
    assert incident.order_id == uuid.UUID(order["id"])
    listed = (await sweeps.chain.api.get("/api/v1/admin/incidents")).json()["data"]
    assert listed[0]["event_type"] == "sweep_failed"
    wallet = (await sweeps.chain.api.get("/api/v1/admin/wallet")).json()
    assert wallet["sweep_queue"] == {"waiting": 0, "active": 0, "failed": 1}

    await sweeps.devnet.faucet(HOT, trx=1000 * SUN)
    await sweeps.devnet.mine()
    retried = await sweeps.chain.api.post(f"/api/v1/admin/orders/{order['id']}/retry-sweep")
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"ok": True}
    again = await sweeps.chain.api.post(f"/api/v1/admin/orders/{order['id']}/retry-sweep")
    assert again.status_code == 409
    assert again.json()["code"] == "INVALID_STATE"
    async with sweeps.chain.db.transaction() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "order.retry_sweep")
            )
        ).one()
    assert audit.target_id == order["id"]
    assert audit.details["failed_step"] == "fund"

    [done] = await sweeps.run()
    assert done.status == "done"
    assert sweeps.devnet.chain.usdt_balance(COLD) == 12_500_000
    fundings = [
        t for t in sweeps.txs("TransferContract", owner=HOT) if t["to_address"] == order["address"]
    ]
    assert len(fundings) == 1


async def test_retry_sweep_of_an_order_without_a_failed_sweep_is_invalid_state(
    sweeps: Sweeps,
) -> None:
    order = await sweeps.confirmed_order("12.5")
    response = await sweeps.chain.api.post(f"/api/v1/admin/orders/{order['id']}/retry-sweep")
    assert response.status_code == 409
    assert response.json() == {
        "error": f"Order {order['id']} has no failed sweep to retry",
        "code": "INVALID_STATE",
    }


async def test_an_expired_underpaid_order_is_swept_too(sweeps: Sweeps) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from paywarden import worker
    from paywarden.context import WorkerContext
    from paywarden.kit.time import utcnow
    from paywarden.models import Order

    order = await sweeps.chain.order("12.5")
    await sweeps.chain.pay(order["address"], 5 * USDT)
    await sweeps.devnet.mine(1 + sweeps.devnet.chain.solidify_depth)
    await sweeps.chain.scan()
    async with sweeps.chain.db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(order["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await worker.expire_orders(WorkerContext(db=sweeps.chain.db, gateway=sweeps.chain.gateway))
    assert (await sweeps.chain.order_row(order["id"])).status == "expired"
    [job] = await sweeps.sweeps(order["id"])
    assert job.status == "waiting"
    [done] = await sweeps.run()
    assert done.status == "done"
    assert sweeps.devnet.chain.usdt_balance(COLD) == 5 * USDT
