"""`GET /api/v1/admin/wallet`: hot and cold wallets, the address pool, the sweep queue, system."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from paywarden.addresses import service as addresses
from paywarden.chain import repository as chain
from paywarden.context import trongrid_client
from paywarden.kit.money import format_trx
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator
from paywarden.orders.stats_schemas import PoolOut
from paywarden.sweeps import service as sweeps
from paywarden.sweeps.tasks import trx_balance

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


class HotWallet(BaseModel):
    address: str
    trx_balance: str  # TRX, 6 decimals
    is_low_balance: bool  # under HOT_WALLET_ALERT_TRX


class ColdWallet(BaseModel):
    address: str


class SweepQueue(BaseModel):
    waiting: int
    active: int
    failed: int


class SystemInfo(BaseModel):
    tron_network: str
    usdt_contract: str
    trongrid_url: str
    tronscan_base_url: str
    tx_explorer_base_url: str
    address_explorer_base_url: str
    sweep_enabled: bool
    sweep_mode: str
    hot_wallet_alert_trx: int
    # The chain scanner: the last block it has read, and how far behind the head that is
    # (null until its first pass).
    scanner_last_block: int | None
    scanner_lag_blocks: int | None


class WalletOut(BaseModel):
    hot_wallet: HotWallet | None
    cold_wallet: ColdWallet | None
    address_pool: PoolOut
    sweep_queue: SweepQueue
    system: SystemInfo


@router.get("/wallet", response_model=WalletOut)
async def wallet(request: Request, db: Session, _: CurrentOperator) -> WalletOut:
    """`hot_wallet` is null until a worker holding HOT_WALLET_KEY has started (it registers the
    address, never the key); its TRX balance is read live, cached a few seconds for every
    process. `cold_wallet` is null without COLD_WALLET_ADDRESS."""
    settings = request.app.state.settings
    network = request.app.state.network
    gateway = request.app.state.gateway
    pool = await addresses.stats(db, gateway.pool)
    cold = settings.cold_wallet_address
    scanner = gateway.scanner
    state = await chain.state(db, scanner.key) if scanner else None

    async def read_balance(address: str) -> int:
        if scanner is None:
            raise RuntimeError("no TronGrid endpoint configured")
        async with trongrid_client(scanner) as client:
            return await trx_balance(client, address)

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
