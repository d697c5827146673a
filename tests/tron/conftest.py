"""The devnet over real HTTP (uvicorn on a free port of 127.0.0.1) and the real TronGrid client.

Transactions are built and signed offline with tronpy, as an outside wallet would, so the devnet
is checked against an independent implementation of TRON's transaction format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tronpy import Tron
from tronpy.contract import Contract
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from paywarden.tron.client import TronGridClient
from paywarden.tron.devnet import Chain, mount_devnet, new_chain
from tests.servers import serve

TRC20_ABI = [
    {
        "name": "transfer",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
SUN = 1_000_000


@dataclass
class Devnet:
    """A running devnet: its TronGrid base URL, the chain behind it and a control client."""

    url: str
    chain: Chain
    control: httpx.AsyncClient
    client: TronGridClient

    async def mine(self, blocks: int = 1) -> dict[str, Any]:
        response = await self.control.post("/mine", json={"blocks": blocks})
        assert response.status_code == 200, response.text
        return response.json()

    async def faucet(self, address: str, **amounts: int) -> list[str]:
        response = await self.control.post("/faucet", json={"address": address, **amounts})
        assert response.status_code == 200, response.text
        return response.json()["tx_hashes"]

    async def trx(self, address: str) -> int:
        account = await self.client.account(address)
        return int(account.get("balance", 0)) if account else 0

    async def usdt(self, address: str) -> int:
        account = await self.client.account(address)
        for holding in (account or {}).get("trc20", []):
            if self.chain.usdt_contract in holding:
                return int(holding[self.chain.usdt_contract])
        return 0


@pytest.fixture
def solidify_depth() -> int:
    return 3


@pytest.fixture
async def devnet(solidify_depth: int) -> AsyncIterator[Devnet]:
    """The devnet mounted at /devnet of an app, as the gateway mounts it; blocks on demand."""
    app = FastAPI()
    chain = new_chain(solidify_depth)
    mount_devnet(app, "/devnet", chain=chain, block_seconds=None)
    async for base in serve(app):
        url = f"{base}/devnet"
        async with (
            httpx.AsyncClient(base_url=url) as control,
            TronGridClient([url], max_rounds=1) as client,
        ):
            yield Devnet(url, chain, control, client)


@pytest.fixture
def tron() -> Tron:
    """tronpy for offline building only: its provider points nowhere and is never called."""
    return Tron(provider=HTTPProvider("http://127.0.0.1:9"))


@pytest.fixture
def new_key() -> Callable[[], PrivateKey]:
    return PrivateKey.random


def sign(tx: Any, key: PrivateKey) -> dict[str, Any]:
    return tx.sign(key).to_json()


async def trx_transfer(
    tron: Tron, client: TronGridClient, key: PrivateKey, to: str, amount: int
) -> dict[str, Any]:
    """A TRX transfer built offline by tronpy on the devnet's head block, signed with `key`."""
    head = await client.now_block()
    owner = key.public_key.to_base58check_address()
    tx = tron.trx.transfer(owner, to, amount).build(offline=True, ref_block_id=head.block_id)
    return sign(tx, key)


async def usdt_transfer(
    tron: Tron,
    client: TronGridClient,
    contract: str,
    key: PrivateKey,
    to: str,
    amount: int,
    *,
    fee_limit: int = 100 * SUN,
) -> dict[str, Any]:
    head = await client.now_block()
    owner = key.public_key.to_base58check_address()
    usdt = Contract(contract, abi=TRC20_ABI, client=tron)
    builder = usdt.functions.transfer.with_owner(owner)(to, amount).fee_limit(fee_limit)
    return sign(builder.build(offline=True, ref_block_id=head.block_id), key)
