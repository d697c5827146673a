"""A small TRON chain inside the project (in the spirit of Ethereum's anvil).

It serves the subset of the TronGrid HTTP API the gateway uses, with TronGrid's JSON shapes, so
the one TronGrid client (`paywarden.tron.client`) is the code path on every network. State is in
memory: a restart starts a fresh chain. `chain.py` holds the rules, `app.py` the HTTP side.
"""

from paywarden.tron.devnet.app import create_devnet_app, mount_devnet, new_chain
from paywarden.tron.devnet.chain import Chain, ChainParams

__all__ = ["Chain", "ChainParams", "create_devnet_app", "mount_devnet", "new_chain"]
