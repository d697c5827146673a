"""The hot wallet page: wallets, the address pool, the sweep queue and the system it runs on.

The admin API answers it as JSON and the console renders it; both call `overview`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.addresses import service as addresses
from paywarden.addresses.schemas import PoolOut
from paywarden.kit.money import format_trx
from paywarden.sweeps import repository as repo
from paywarden.sweeps import service as sweeps
from paywarden.sweeps.schemas import ColdWallet, HotWallet, SweepQueue, SystemInfo, WalletOut
from paywarden.tron.client import TronGridClient

if TYPE_CHECKING:
    from paywarden.config import Settings
    from paywarden.context import GatewayContext
    from paywarden.tron.networks import Network


async def overview(
    db: AsyncSession, settings: Settings, network: Network, gateway: GatewayContext
) -> WalletOut:
    """`hot_wallet` is None until a worker holding HOT_WALLET_KEY has registered its address;
    its TRX balance is read live from TronGrid (cached a few seconds for every process)."""
    pool = await addresses.stats(db, gateway.pool)
    cold = settings.cold_wallet_address
    scanner = gateway.scanner
    state = await repo.scanner_state(db, scanner.key) if scanner else None

    async def read_balance(address: str) -> int:
        if scanner is None:
            raise RuntimeError("no TronGrid endpoint configured")
        async with TronGridClient(list(scanner.trongrid_urls), api_key=scanner.api_key) as client:
            return await client.trx_balance(address)

    hot = await sweeps.hot_wallet(db, read_balance, settings.hot_wallet_alert_trx)
    queue = await sweeps.queue(db)
    return WalletOut(
        hot_wallet=HotWallet(
            address=hot.address,
            trx_balance=format_trx(hot.balance_sun or 0),
            is_low_balance=hot.is_low,
        )
        if hot
        else None,
        cold_wallet=ColdWallet(address=cold) if cold else None,
        address_pool=PoolOut.of(pool),
        sweep_queue=SweepQueue(**queue),
        system=SystemInfo(
            tron_network=network.name,
            usdt_contract=network.usdt_contract,
            trongrid_url=network.trongrid_url,
            tronscan_base_url=network.tronscan_base_url,
            tx_explorer_base_url=network.tx_explorer_base_url,
            address_explorer_base_url=network.address_explorer_base_url,
            sweep_enabled=settings.sweep_enabled,
            sweep_mode=settings.sweep_mode,
            hot_wallet_alert_trx=settings.hot_wallet_alert_trx,
            scanner_last_block=state.last_block if state else None,
            scanner_lag_blocks=max(0, state.head_block - state.last_block) if state else None,
        ),
    )
