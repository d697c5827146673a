"""Sweeps on a devnet served over real HTTP, with real keys and signatures.

The gateway's scanner confirms orders paid on the devnet (tests/chain/conftest.py); the sweeper
is the one a worker builds from the settings (HOT_WALLET_KEY, SWEEP_SEED = the test mnemonic
whose xpub is TEST_XPUB), run pass by pass while the test mines blocks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from paywarden.config import Settings
from paywarden.context import sweeper as build_sweeper
from paywarden.kit.money import parse_usdt
from paywarden.kit.time import utcnow
from paywarden.models import Sweep
from paywarden.models.sweeps import S_ACTIVE, S_WAITING
from paywarden.sweeps.tasks import Sweeper
from paywarden.tron import crypto
from tests.chain.conftest import Chain, chain  # noqa: F401 - fixtures
from tests.conftest import TEST_MNEMONIC
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures

SUN = 1_000_000
HOT_KEY = hashlib.sha256(b"paywarden test hot wallet").hexdigest()
HOT = crypto.KeyPair.from_secret(bytes.fromhex(HOT_KEY)).address
COLD = crypto.KeyPair.from_seed("paywarden test cold wallet").address


@pytest.fixture
def sweep_mode() -> str:
    return "burn"


@pytest.fixture
def sweep_settings(devnet: Devnet, sweep_mode: str) -> dict[str, Any]:  # noqa: F811
    return {
        "trongrid_url": devnet.url,
        "scan_start_block": 0,
        "sweep_enabled": True,
        "sweep_mode": sweep_mode,
        "cold_wallet_address": COLD,
        "hot_wallet_key": HOT_KEY,
        "sweep_seed": TEST_MNEMONIC,
        "sweep_min_amount": "1",
    }


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sweep_settings: dict[str, Any]) -> Settings:
    return make_settings(**sweep_settings)


@dataclass
class Sweeps:
    """The chain helpers plus a worker's sweeper: confirm orders, run sweeps, count txs."""

    chain: Chain
    sweeper: Sweeper

    @property
    def devnet(self) -> Devnet:
        return self.chain.devnet

    def fresh_sweeper(self, **hooks: Any) -> Sweeper:
        """Another worker's sweeper over the same database (new keys object, no memory)."""
        made = build_sweeper(self.chain.app.state.settings, self.chain.gateway)
        assert made is not None
        return Sweeper(made.keys, dataclasses.replace(made.cfg, poll_seconds=0), **hooks)

    async def confirmed_order(self, amount: str = "12.5", micro: int | None = None) -> dict:
        order = await self.chain.order(amount)
        await self.chain.pay(order["address"], micro or parse_usdt(amount))
        await self.devnet.mine(1 + self.devnet.chain.solidify_depth)
        await self.chain.scan()
        row = await self.chain.order_row(order["id"])
        assert row.status == "confirmed", row.status
        return order

    async def sweeps(self, order_id: object | None = None) -> list[Sweep]:
        async with self.chain.db.transaction() as session:
            query = select(Sweep).order_by(Sweep.created_at)
            if order_id is not None:
                query = query.where(Sweep.order_id == uuid.UUID(str(order_id)))
            return list((await session.scalars(query)).all())

    async def expire_leases(self) -> None:
        """As if the lease of a worker that died had run out."""
        async with self.chain.db.transaction() as session:
            await session.execute(
                update(Sweep)
                .where(Sweep.status.in_((S_WAITING, S_ACTIVE)))
                .values(next_run_at=utcnow() - timedelta(seconds=1))
            )

    async def run(self, sweeper: Sweeper | None = None, *, rounds: int = 60) -> list[Sweep]:
        """Passes and blocks until no sweep is waiting or active (or `rounds` run out)."""
        for _ in range(rounds):
            await (sweeper or self.sweeper).run_pass(self.chain.db, self.devnet.client)
            rows = await self.sweeps()
            if not [r for r in rows if r.status in (S_WAITING, S_ACTIVE)]:
                return rows
            await self.devnet.mine()
        raise AssertionError(f"sweeps still running: {[(r.status, r.step) for r in rows]}")

    def txs(self, contract_type: str, *, owner: str | None = None) -> list[dict[str, Any]]:
        """Transactions of a type in the devnet's blocks and pending pool, with their values."""
        node = self.devnet.chain
        found = []
        for included in [i for b in node.blocks for i in b.txs] + node.pending:
            if included.tx.contract_type != contract_type:
                continue
            if owner is not None and included.tx.owner != crypto.normalize(owner):
                continue
            found.append(
                {
                    "txid": included.tx.txid,
                    "fee": included.effects.fee,
                    "result": included.effects.result,
                    "receipt": included.effects.receipt,
                    **{
                        k: crypto.normalize(v) if k.endswith("address") else v
                        for k, v in included.tx.value.items()
                    },
                }
            )
        return found


@pytest.fixture
async def sweeps(chain: Chain, devnet: Devnet) -> Sweeps:  # noqa: F811
    await devnet.faucet(HOT, trx=1_000_000 * SUN)
    await devnet.mine()
    made = build_sweeper(chain.app.state.settings, chain.gateway)
    assert made is not None
    return Sweeps(chain, Sweeper(made.keys, dataclasses.replace(made.cfg, poll_seconds=0)))
