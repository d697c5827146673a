"""What the scanner needs to know, built once from the settings (see `paywarden.context`)."""

from __future__ import annotations

from dataclasses import dataclass

from paywarden.tron.networks import Network

# With no SCAN_START_BLOCK, a new database starts this many blocks below the head (~1 hour).
DEFAULT_LOOKBACK_BLOCKS = 1200
TRON_BLOCK_SECONDS = 3.0


@dataclass(frozen=True)
class ScannerConfig:
    network: Network
    trongrid_urls: tuple[str, ...]  # TRONGRID_URLS, else TRONGRID_URL, else the preset's URL
    api_key: str | None = None
    interval_seconds: float = 1.0
    batch_blocks: int = 200
    start_block: int | None = None
    lookback_blocks: int = DEFAULT_LOOKBACK_BLOCKS
    # The chain's block time (TRON: 3 s; the devnet: DEVNET_BLOCK_SECONDS), which lets the
    # worker poll just after each block is due; None (blocks on demand): every interval.
    block_seconds: float | None = TRON_BLOCK_SECONDS

    @property
    def key(self) -> str:
        """The scanner_state row: one per network and token contract."""
        return f"{self.network.name}:{self.network.usdt_contract}"

    @property
    def contract(self) -> str:
        return self.network.usdt_contract
