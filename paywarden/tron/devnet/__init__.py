"""A small TRON chain inside the project (in the spirit of Ethereum's anvil).

It serves the TronGrid HTTP API that the gateway and stock clients (tronpy, TronWeb) use for
balances, TRX and TRC-20 transfers, contract reads and Stake 2.0, with java-tron's and TronGrid's
JSON shapes (visible or not), so the one TronGrid client (`paywarden.tron.client`) is the code path
on every network. State is in memory: a restart starts a fresh chain. `chain.py` holds the rules,
`wallet.py` the java-tron endpoints, `views.py` the JSON shapes, `usdt.py` the contract's ABI and
`app.py` the HTTP side (TronGrid v1 and the control API).
"""

from paywarden.tron.devnet.app import create_devnet_app, mount_devnet, new_chain
from paywarden.tron.devnet.chain import Chain, ChainParams

__all__ = ["Chain", "ChainParams", "create_devnet_app", "mount_devnet", "new_chain"]
