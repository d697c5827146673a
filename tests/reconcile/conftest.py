"""A consistent world for the reconciliation, built on a devnet over real HTTP: orders paid
exact, partial, over, late, expired underpaid, an orphan payment, a top-up credited, every
confirmed order swept by the worker's sweeper, then an orphan payment to a swept address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from paywarden.addresses import tasks as address_tasks
from paywarden.models import DepositAddress, Order
from paywarden.reconcile import service as reconciliation
from paywarden.reconcile.findings import Report
from paywarden.reconcile.options import options_for
from paywarden.tron.client import TronGridClient
from tests.chain.conftest import Chain, chain  # noqa: F401 - fixtures
from tests.chain.test_scanner import expire_now
from tests.subscriptions.conftest import make_plan, new_client
from tests.sweeps.conftest import (  # noqa: F401 - fixtures
    Sweeps,
    settings,
    sweep_mode,
    sweep_settings,
    sweeps,
)
from tests.topups.helpers import create_topup
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures

USDT = 1_000_000


@dataclass
class World:
    sweeps: Sweeps
    orders: dict[str, uuid.UUID]  # exact, partial, over, expired, topup
    topup_id: uuid.UUID
    orphan_tx: str
    after_sweep_tx: str

    @property
    def chain(self) -> Chain:
        return self.sweeps.chain

    async def reconcile(self, client: TronGridClient | None = None) -> Report:
        opt = options_for(self.chain.app.state.settings)
        return await reconciliation.run(self.chain.db, client or self.chain.client, opt)

    async def settle(self) -> None:
        """Mine past finality and let the scanner take everything in."""
        await self.chain.devnet.mine(1 + self.chain.devnet.chain.solidify_depth)
        await self.chain.scan()


async def _free_address(on: Chain) -> str:
    async with on.db.transaction() as session:
        free = await session.scalar(
            select(DepositAddress.address)
            .where(DepositAddress.status == "free")
            .order_by(DepositAddress.derivation_index.desc())  # not the next order's
            .limit(1)
        )
    assert free is not None
    return free


@pytest.fixture
async def world(sweeps: Sweeps) -> World:  # noqa: F811
    net = sweeps.chain
    db = net.db
    made = {
        name: await net.order(amount)
        for name, amount in (("exact", "12.5"), ("partial", "10"), ("over", "5"), ("expired", "10"))
    }
    await make_plan(db, monthly_fee=0, topup_fee_bps=100, is_default=True)  # 1 %
    topup = await create_topup(net.app, await new_client(db), 40 * USDT)
    await address_tasks.top_up(db, net.gateway.pool)  # as the worker's pass does
    orphan_tx = await net.pay(await _free_address(net), 2 * USDT)  # no order holds it
    for name, micro in (
        ("exact", 12_500_000),
        ("partial", 4 * USDT),
        ("over", 7 * USDT),
        ("expired", 2 * USDT),
    ):
        await net.pay(made[name]["address"], micro)
    await net.pay(topup.address, 40_500_000)
    world = World(
        sweeps,
        {**{k: uuid.UUID(v["id"]) for k, v in made.items()}, "topup": topup.order_id},
        topup.topup.id,
        orphan_tx,
        "",
    )
    await world.settle()
    await net.pay(made["over"]["address"], 3 * USDT)  # late: the order is paid already
    assert await expire_now(net, made["expired"]["id"]) == 1
    await world.settle()
    await sweeps.run()
    # A payment after the sweep (the address went back to the pool): an orphan, left on it.
    world.after_sweep_tx = await net.pay(made["exact"]["address"], 1 * USDT)
    await world.settle()
    async with db.transaction() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Order.id, Order.status).where(Order.id.in_(world.orders.values()))
                )
            ).all()
        )
    assert statuses == {
        world.orders["exact"]: "confirmed",
        world.orders["partial"]: "pending",
        world.orders["over"]: "confirmed",
        world.orders["expired"]: "expired",
        world.orders["topup"]: "confirmed",
    }
    return world
