"""Benchmark: sweeping confirmed orders to the cold wallet on the devnet, in each mode.

For each mode (`burn`, `delegate`): a fresh devnet in its own process (`paywarden devnet`, a
block every --block-seconds, solidified --solidify-depth blocks behind), a fresh SQLite database,
N orders created through the gateway's service, paid on the devnet (from its treasury) and
confirmed by the chain scanner; then the worker's sweeper (real keys, real
signatures, over HTTP) runs pass after pass until every sweep is done. Prints sweeps per minute
and the TRX spent per sweep beside the least the chain's prices allow:

- burn: the transfer's energy at getEnergyFee, plus the activation of a new deposit address
  (getCreateNewAccountFeeInSystemContract + getCreateAccountFee), which must hold TRX to burn;
- delegate: the activation only (energy is lent by the hot wallet and taken back); bandwidth
  could in principle be staked too, so it is left out of the minimum.

    .venv/bin/python bench/sweeps.py [--orders 1000] [--modes burn,delegate]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from paywarden import subscribers
from paywarden.app import create_app
from paywarden.audit.context import CLI
from paywarden.chain import tasks as chain_tasks
from paywarden.config import Settings
from paywarden.context import sweeper as build_sweeper
from paywarden.kit.db import make_engine
from paywarden.kit.migrations import upgrade
from paywarden.merchants import service as merchants
from paywarden.models import Order, Sweep
from paywarden.orders import service as orders
from paywarden.orders.service import NewOrder
from paywarden.tron.client import TronGridClient
from paywarden.tron.keys import account_xpub

SUN = 1_000_000
MNEMONIC = " ".join(["abandon"] * 11 + ["about"])  # the public BIP-39 test mnemonic
HOT_KEY = hashlib.sha256(b"paywarden bench hot wallet").hexdigest()
COLD = "TPL66VK2gCXNCD7EJg9pgJRfqcRazjhUZY"  # an address nobody here holds the key of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def devnet_process(block_seconds: float, solidify_depth: int) -> Any:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "paywarden"),
        "devnet",
        "--port",
        str(port),
        "--block-seconds",
        str(block_seconds),
        "--solidify-depth",
        str(solidify_depth),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    url = f"http://127.0.0.1:{port}/devnet"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/state", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the devnet did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def wait_blocks(client: TronGridClient, blocks: int) -> None:
    start = (await client.now_block()).number
    while True:
        if (await client.now_block()).number >= start + blocks:
            return
        await asyncio.sleep(0.05)


async def run_mode(mode: str, args: argparse.Namespace, var_dir: Path) -> dict[str, Any]:
    database_url = f"sqlite+aiosqlite:///{var_dir / f'{mode}.db'}"
    engine = make_engine(database_url, poolclass=NullPool)
    await upgrade(engine)
    await engine.dispose()
    with devnet_process(args.block_seconds, args.solidify_depth) as url:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database_url,
            var_dir=var_dir,
            secret_key="b" * 40,
            log_level="WARNING",
            admin_email=None,
            admin_password=None,
            demo_data=False,
            xpub=account_xpub(MNEMONIC),
            address_pool_min_free=10,
            trongrid_url=url,
            scan_start_block=0,
            sweep_enabled=True,
            sweep_mode=mode,
            cold_wallet_address=COLD,
            hot_wallet_key=HOT_KEY,
            sweep_seed=MNEMONIC,
            sweep_min_amount="1",
            db_pool_size=20,
        )
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(base_url=url, timeout=30) as control,
            TronGridClient([url]) as client,
        ):
            db = app.state.db
            gateway = app.state.gateway
            sweeper = build_sweeper(settings, gateway)
            assert sweeper is not None
            hot = sweeper.keys.hot_address
            await control.post("/faucet", json={"address": hot, "trx": 50_000_000 * SUN})

            # N confirmed orders: made, paid on the devnet, confirmed by the scanner.
            async with db.transaction() as session:
                shop = await merchants.create(
                    session,
                    name=f"bench-{uuid.uuid4().hex[:8]}",
                    webhook_secret="x" * 16,
                    webhook_url=None,
                    actor=CLI,
                )
            made = []
            for i in range(args.orders):
                async with db.transaction() as session:
                    order, _ = await orders.create(
                        session,
                        gateway,
                        shop.merchant,
                        NewOrder(f"bench-{i}", 10 * SUN + i, None, 3600, None),
                    )
                made.append(order)
            for order in made:
                # From the devnet's treasury (its customers' TRX would not pay 1,000 fees).
                response = await control.post(
                    "/faucet", json={"address": order.address, "usdt": order.amount_expected}
                )
                response.raise_for_status()
            await wait_blocks(client, args.solidify_depth + 2)
            assert gateway.scanner is not None
            while True:
                await chain_tasks.scan_pass(db, client, gateway.scanner, gateway)
                async with db.transaction() as session:
                    confirmed = await session.scalar(
                        select(func.count()).select_from(Order).where(Order.status == "confirmed")
                    )
                if confirmed == args.orders:
                    break
                await asyncio.sleep(0.2)
            hot_before = int((await client.account(hot) or {}).get("balance", 0))
            params = await client.chain_parameters()

            # The sweeps, timed: the worker's loop, pass after pass.
            started = time.perf_counter()
            while True:
                await sweeper.run_pass(db, client)
                async with db.transaction() as session:
                    counts = dict(
                        (
                            await session.execute(
                                select(Sweep.status, func.count()).group_by(Sweep.status)
                            )
                        ).all()
                    )
                if counts.get("done", 0) + counts.get("failed", 0) >= args.orders:
                    break
                await asyncio.sleep(args.poll_seconds)
            elapsed = time.perf_counter() - started
            hot_after = int((await client.account(hot) or {}).get("balance", 0))

            async with db.transaction() as session:
                rows = (await session.scalars(select(Sweep))).all()
            done = [r for r in rows if r.status == "done"]
            energy = 0
            for row in done:
                info = await client.transaction_info(str(row.transfer_txid), solidified=True)
                energy += int(((info or {}).get("receipt") or {}).get("energy_usage_total", 0))
            activation = params["getCreateNewAccountFeeInSystemContract"] + params.get(
                "getCreateAccountFee", 0
            )
            fees = sum(r.fee_sun for r in done)
            least = len(done) * activation
            if mode == "burn":
                least += energy * params["getEnergyFee"]
            n = max(1, len(done))
            return {
                "mode": mode,
                "swept": len(done),
                "failed": counts.get("failed", 0),
                "seconds": elapsed,
                "per_minute": len(done) / elapsed * 60,
                "burned_trx": fees / n / SUN,
                "hot_wallet_trx": (hot_before - hot_after) / n / SUN,
                "least_trx": least / n / SUN,
                "energy": energy / n,
            }


async def main() -> None:
    subscribers.compose()  # the scanner's confirmations publish order events
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--modes", default="burn,delegate")
    parser.add_argument("--block-seconds", type=float, default=0.2)
    parser.add_argument("--solidify-depth", type=int, default=2)
    parser.add_argument("--poll-seconds", type=float, default=0.05)
    args = parser.parse_args()
    print(
        f"{args.orders} confirmed orders per mode; devnet block every {args.block_seconds}s, "
        f"solidified {args.solidify_depth} blocks behind; SQLite"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            r = await run_mode(mode, args, Path(tmp))
            print(
                f"{r['mode']:>8}: {r['swept']} swept ({r['failed']} failed) in {r['seconds']:.1f}s "
                f"= {r['per_minute']:.0f} sweeps/min; TRX per sweep: {r['burned_trx']:.6f} burned "
                f"(least the chain's prices allow: {r['least_trx']:.6f}), "
                f"{r['hot_wallet_trx']:.6f} out of the hot wallet "
                f"(energy per transfer {r['energy']:.0f})"
            )


if __name__ == "__main__":
    asyncio.run(main())
