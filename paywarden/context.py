"""What a process builds once from its settings and hands to services: pool, network, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from paywarden.addresses.service import Pool
from paywarden.chain.config import TRON_BLOCK_SECONDS, ScannerConfig
from paywarden.config import Settings
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.crypto import keyset_for
from paywarden.kit.db import Database, PoolOptions
from paywarden.kit.logging import get_logger
from paywarden.treasury.service import TreasuryConfig
from paywarden.tron.client import TronGridClient
from paywarden.tron.keys import derive_address, development_xpub
from paywarden.tron.networks import Network, network_for
from paywarden.webhooks.service import WebhookPolicy

if TYPE_CHECKING:  # the signer: imported by the worker only (`sweeper`), never the API
    from paywarden.sweeps.tasks import Sweeper

log = get_logger(__name__)


@dataclass(frozen=True)
class GatewayContext:
    """The gateway's settings a process hands to its services (built by `gateway_context`)."""

    pool: Pool
    tz: ZoneInfo
    public_base_url: str  # PUBLIC_BASE_URL: webhooks carry the order's checkout_url
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    # UNDERPAY_TOLERANCE in micro-USDT: how far short final transfers may be and still confirm.
    underpay_tolerance: int = 0
    # The chain scanner's network, TronGrid endpoints and pace (None: no scanning).
    scanner: ScannerConfig | None = None


def database(settings: Settings) -> Database:
    """The process's database, its PostgreSQL pool sized by DB_POOL_* settings."""
    pool = PoolOptions(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pool_pre_ping,
        timeout=settings.db_pool_timeout,
    )
    return Database(settings.database_url, pool, keyset=keyset_for(settings))


def resolve_xpub(settings: Settings) -> str:
    """XPUB, or in development a generated mnemonic's xpub (production requires XPUB)."""
    xpub = settings.xpub or development_xpub(settings.var_dir)
    derive_address(xpub, 0)  # fails early, with a clear message, on a malformed key
    return xpub


def gateway_context(settings: Settings) -> GatewayContext:
    pool = Pool(
        xpub=resolve_xpub(settings),
        min_free=settings.address_pool_min_free,
        reuse_cooldown=timedelta(seconds=settings.address_reuse_cooldown),
    )
    return GatewayContext(
        pool=pool,
        tz=settings.tz,
        public_base_url=settings.public_base_url,
        webhooks=webhook_policy(settings),
        underpay_tolerance=settings.underpay_tolerance_units,
        scanner=scanner_config(settings),
    )


def scanner_config(settings: Settings) -> ScannerConfig:
    """TRONGRID_URLS, else TRONGRID_URL, else the network preset's URL (for the embedded devnet:
    PUBLIC_BASE_URL/devnet); TRONGRID_API_KEY; the SCAN_* pace."""
    net = network(settings)
    key = settings.trongrid_api_key.get_secret_value() if settings.trongrid_api_key else None
    return ScannerConfig(
        network=net,
        trongrid_urls=tuple(settings.trongrid_base_urls or [net.trongrid_url]),
        api_key=key,
        interval_seconds=settings.scan_interval_seconds,
        batch_blocks=settings.scan_batch_blocks,
        start_block=settings.scan_start_block,
        block_seconds=(
            (settings.devnet_block_seconds or None) if net.name == "devnet" else TRON_BLOCK_SECONDS
        ),
    )


def trongrid_client(cfg: ScannerConfig) -> TronGridClient:
    return TronGridClient(list(cfg.trongrid_urls), api_key=cfg.api_key)


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """Retries from WEBHOOK_RETRY_DELAYS; in production the SSRF guard (non-public targets,
    credentials, and http unless WEBHOOK_ALLOW_HTTP refused) unless WEBHOOK_ALLOW_PRIVATE
    (development always allows them: receivers run on localhost)."""
    return WebhookPolicy(
        retry_delays=settings.webhook_retry_schedule,
        refuse_private=settings.is_production and not settings.webhook_allow_private,
        allow_http=settings.webhook_allow_http,
    )


def network(settings: Settings) -> Network:
    return network_for(settings.tron_network, settings.public_base_url, settings.trongrid_url)


def sweeper(settings: Settings, gateway: GatewayContext) -> Sweeper | None:
    """The sweeper, for worker processes only: it reads HOT_WALLET_KEY and SWEEP_SEED(_FILE)
    and checks that the seed is XPUB's (a ConfigError otherwise). None without a hot wallet.
    The signer's modules are imported here, not at the top: the API process imports this
    module and must never load them (tests/test_signer_isolation.py)."""
    from paywarden.sweeps import keys as sweep_keys
    from paywarden.sweeps.tasks import SweepConfig, Sweeper

    keys = sweep_keys.load(settings, gateway.pool.xpub)
    if keys is None:
        return None
    cfg = SweepConfig(
        enabled=settings.sweep_enabled,
        mode=settings.sweep_mode,
        cold_wallet=settings.cold_wallet_address,
        min_amount=settings.sweep_min_amount_units,
        alert_trx=settings.hot_wallet_alert_trx,
        usdt_contract=network(settings).usdt_contract,
        pool=gateway.pool,
    )
    log.info("sweeper_ready", hot_wallet=keys.hot_address, enabled=cfg.enabled, mode=cfg.mode)
    return Sweeper(keys, cfg)


def treasury_config(settings: Settings) -> TreasuryConfig:
    """ISSUER_RUNWAY_ALERT_DAYS, ISSUER_BALANCE_ALERT_EUR / _USD and the report time zone."""
    return TreasuryConfig(
        runway_alert_days=settings.issuer_runway_alert_days,
        balance_alerts=settings.issuer_balance_alerts(),
        tz=settings.tz,
    )


@dataclass(frozen=True)
class WorkerContext:
    db: Database
    gateway: GatewayContext
    # The scanner's TronGrid client; None: built from the gateway's scanner settings on first use
    # (`run_loops` closes it when the loops stop).
    trongrid: TronGridClient | None = None
    # The sweeper (keys included) in worker processes; None in the API process.
    sweeper: Sweeper | None = None
    # The card issuer's adapter (paywarden/issuer/registry.py); the owner closes it.
    issuer: IssuerAdapter | None = None
    # The low-float alert's thresholds (None: the defaults, 3 days and no balance alert).
    treasury: TreasuryConfig | None = None

    @cached_property
    def tron(self) -> TronGridClient | None:
        if self.trongrid is not None:
            return self.trongrid
        cfg = self.gateway.scanner
        return trongrid_client(cfg) if cfg else None
