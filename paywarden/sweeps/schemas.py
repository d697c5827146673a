"""The hot wallet page's answer: wallets, the address pool, the sweep queue, the system."""

from __future__ import annotations

from pydantic import BaseModel

from paywarden.addresses.schemas import PoolOut


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
