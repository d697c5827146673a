"""Per-network presets: the USDT contract, the TronGrid endpoint and the explorer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str
    usdt_contract: str
    trongrid_url: str
    tronscan_base_url: str

    @property
    def tx_explorer_base_url(self) -> str:
        return f"{self.tronscan_base_url}/transaction/"

    @property
    def address_explorer_base_url(self) -> str:
        return f"{self.tronscan_base_url}/address/"


PRESETS = {
    "mainnet": Network(
        "mainnet",
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "https://api.trongrid.io",
        "https://tronscan.org/#",
    ),
    "nile": Network(
        "nile",
        "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        "https://nile.trongrid.io",
        "https://nile.tronscan.org/#",
    ),
    "shasta": Network(
        "shasta",
        "TG3XXyExBkPp9nzdajDZsozEu4BkaSJozs",
        "https://api.shasta.trongrid.io",
        "https://shasta.tronscan.org/#",
    ),
}


def network_for(name: str, public_base_url: str, trongrid_url: str | None = None) -> Network:
    """The preset for `name`; the devnet lives inside this app, under /devnet, and its explorer
    (server-rendered, so its links are paths, not tronscan's fragments) under /devnet/explorer."""
    if name == "devnet":
        base = f"{public_base_url}/devnet"
        preset = Network("devnet", PRESETS["mainnet"].usdt_contract, base, f"{base}/explorer")
    else:
        preset = PRESETS[name]
    if trongrid_url:
        preset = Network(
            preset.name, preset.usdt_contract, trongrid_url.rstrip("/"), preset.tronscan_base_url
        )
    return preset
