"""`GET /api/v1/admin/wallet`: hot and cold wallets, the address pool, the sweep queue, system."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from paywarden.addresses import service as addresses
from paywarden.chain import repository as chain
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator
from paywarden.orders.stats_schemas import PoolOut

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


class HotWallet(BaseModel):
    address: str
    trx_balance: str
    is_low_balance: bool


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
    """`hot_wallet` is null until a hot wallet key is configured; `cold_wallet` likewise."""
    settings = request.app.state.settings
    network = request.app.state.network
    pool = await addresses.stats(db, request.app.state.gateway.pool)
    cold = settings.cold_wallet_address
    scanner = request.app.state.gateway.scanner
    state = await chain.state(db, scanner.key) if scanner else None
    return WalletOut(
        # The hot wallet (its key, live balance and alerts) arrives with the sweeper.
        hot_wallet=None,
        cold_wallet=ColdWallet(address=cold) if cold else None,
        address_pool=PoolOut.of(pool),
        # No sweep jobs exist before the sweeper; the queue is empty by construction.
        sweep_queue=SweepQueue(waiting=0, active=0, failed=0),
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
