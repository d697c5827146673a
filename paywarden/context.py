"""What a process builds once from its settings and hands to services: pool, network, limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from paywarden.addresses.service import Pool
from paywarden.chain.config import ScannerConfig
from paywarden.config import Settings
from paywarden.kit.db import Database, PoolOptions
from paywarden.kit.logging import get_logger
from paywarden.orders.service import GatewayContext
from paywarden.tron.client import TronGridClient
from paywarden.tron.keys import derive_address, development_xpub
from paywarden.tron.networks import Network, network_for
from paywarden.webhooks.service import WebhookPolicy

log = get_logger(__name__)


def database(settings: Settings) -> Database:
    """The process's database, its PostgreSQL pool sized by DB_POOL_* settings."""
    pool = PoolOptions(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pool_pre_ping,
    )
    return Database(settings.database_url, pool)


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
    )


def trongrid_client(cfg: ScannerConfig) -> TronGridClient:
    return TronGridClient(list(cfg.trongrid_urls), api_key=cfg.api_key)


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """Retries from WEBHOOK_RETRY_DELAYS; private targets refused in production unless
    WEBHOOK_ALLOW_PRIVATE (development always allows them: receivers run on localhost)."""
    return WebhookPolicy(
        retry_delays=settings.webhook_retry_schedule,
        refuse_private=settings.is_production and not settings.webhook_allow_private,
    )


def network(settings: Settings) -> Network:
    return network_for(settings.tron_network, settings.public_base_url, settings.trongrid_url)


@dataclass(frozen=True)
class WorkerContext:
    db: Database
    gateway: GatewayContext
    # The scanner's TronGrid client; None: built from the gateway's scanner settings on first use
    # (`run_loops` closes it when the loops stop).
    trongrid: TronGridClient | None = None

    @cached_property
    def tron(self) -> TronGridClient | None:
        if self.trongrid is not None:
            return self.trongrid
        cfg = self.gateway.scanner
        return trongrid_client(cfg) if cfg else None
