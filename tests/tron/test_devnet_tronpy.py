"""Stock tronpy (from PyPI, unmodified) against the devnet over real HTTP, as a developer would
script it: balances, TRX transfers, USDT through `get_contract`, staking, blocks and errors.

tronpy's `Tron` is synchronous, so for it the devnet runs in uvicorn on its own thread (with its
block timer on: tronpy's `wait()` polls until a block includes the transaction); its `AsyncTron`
uses the `devnet` fixture in the test's own event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from tronpy import AsyncTron, Tron
from tronpy.exceptions import (
    AddressNotFound,
    TransactionError,
    TransactionNotFound,
    UnknownError,
    ValidationError,
)
from tronpy.keys import PrivateKey
from tronpy.providers import AsyncHTTPProvider, HTTPProvider

from paywarden.tron.devnet import Chain, create_devnet_app, new_chain
from tests.servers import serve_on_thread
from tests.tron.conftest import SUN, Devnet

BLOCK_SECONDS = 0.1
POLL = 0.05  # tronpy's wait() interval, a stock argument


@dataclass
class Node:
    """A devnet served on a thread, stock tronpy pointed at it, and a funded customer key."""

    url: str
    chain: Chain
    tron: Tron
    key: PrivateKey

    @property
    def address(self) -> str:
        return self.key.public_key.to_base58check_address()

    @property
    def usdt(self) -> str:
        return self.chain.usdt_contract

    def send_trx(self, to: str, amount: int, key: PrivateKey | None = None) -> dict:
        key = key or self.key
        owner = key.public_key.to_base58check_address()
        tx = self.tron.trx.transfer(owner, to, amount).build().sign(key)
        return tx.broadcast().wait(interval=POLL)


@pytest.fixture
def node() -> Iterator[Node]:
    chain = new_chain(solidify_depth=2)
    app = create_devnet_app(chain, block_seconds=BLOCK_SECONDS)
    key = PrivateKey(chain.customers[0].private_key.secret)
    with serve_on_thread(app) as url:
        yield Node(url, chain, Tron(HTTPProvider(url)), key)


def test_balance_of_a_built_in_customer(node: Node) -> None:
    assert node.tron.get_account_balance(node.address) == Decimal(10_000)
    account = node.tron.get_account(node.address)
    assert account["address"] == node.address  # tronpy asks visible=true: base58
    assert account["owner_permission"]["keys"] == [{"address": node.address, "weight": 1}]
    resource = node.tron.get_account_resource(node.address)
    assert resource["freeNetLimit"] == 600
    assert node.tron.get_bandwidth(node.address) == 600


def test_a_trx_transfer_activates_a_new_account(node: Node) -> None:
    fresh = PrivateKey.random().public_key.to_base58check_address()
    with pytest.raises(AddressNotFound):
        node.tron.get_account(fresh)

    info = node.send_trx(fresh, 5 * SUN)

    assert info["blockNumber"] > 0
    assert info["fee"] == 1_100_000  # the activation fee and its bandwidth burn
    assert node.tron.get_account_balance(fresh) == Decimal(5)
    account = node.tron.get_account(fresh)
    assert account["address"] == fresh
    assert account["create_time"] > 0
    assert node.tron.get_account_balance(node.address) == Decimal(10_000 - 5) - Decimal("1.1")


def test_a_transfer_between_existing_accounts_and_its_lookups(node: Node) -> None:
    other = node.chain.customers[1].address
    tx = node.tron.trx.transfer(node.address, other, 3 * SUN).memo("hello").build()
    ret = tx.sign(node.key).broadcast()
    info = ret.wait(interval=POLL)

    assert info["id"] == ret.txid
    assert "fee" not in info  # free bandwidth covers it
    assert info["receipt"]["net_usage"] > 200
    found = node.tron.get_transaction(ret.txid)
    assert found["txID"] == ret.txid
    assert found["ret"] == [{"contractRet": "SUCCESS"}]
    value = found["raw_data"]["contract"][0]["parameter"]["value"]
    assert value == {"owner_address": node.address, "to_address": other, "amount": 3 * SUN}
    assert found["raw_data"]["data"] == b"hello".hex()
    assert node.tron.get_account_balance(other) == Decimal(10_003)
    solid = ret.wait(interval=POLL, solid=True)
    assert solid["id"] == ret.txid


def test_usdt_through_get_contract(node: Node) -> None:
    usdt = node.tron.get_contract(node.usdt)
    assert usdt.name == "TetherToken"
    assert usdt.functions.name() == "Tether USD"
    assert usdt.functions.symbol() == "USDT"
    assert usdt.functions.decimals() == 6
    assert usdt.functions.balanceOf(node.address) == 1_000_000 * SUN
    supply = usdt.functions.totalSupply()
    receiver = PrivateKey.random().public_key.to_base58check_address()
    assert usdt.functions.balanceOf(receiver) == 0

    ret = (
        usdt.functions.transfer(receiver, 2_500_000)
        .with_owner(node.address)
        .fee_limit(100 * SUN)
        .build()
        .sign(node.key)
        .broadcast()
    )
    assert ret.result(interval=POLL) is True  # the call's return value, decoded by tronpy

    info = node.tron.get_transaction_info(ret.txid)
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["contract_address"] == node.usdt
    assert usdt.functions.balanceOf(receiver) == 2_500_000
    assert usdt.functions.balanceOf(node.address) == 1_000_000 * SUN - 2_500_000
    assert usdt.functions.totalSupply() == supply
    # The receipt's log is USDT's Transfer event (its address base58, as visible asks).
    [event] = usdt.events.Transfer.process_receipt(info)
    assert event["args"]["value"] == 2_500_000
    assert node.tron.to_base58check_address(event["args"]["to"]) == receiver
    energy = node.tron.get_estimated_energy(
        node.address, node.usdt, "transfer(address,uint256)", "00" * 64
    )
    assert energy > 0


def test_approve_and_transfer_from(node: Node) -> None:
    usdt = node.tron.get_contract(node.usdt)
    spender = PrivateKey(node.chain.customers[1].private_key.secret)
    spender_address = spender.public_key.to_base58check_address()
    approve = usdt.functions.approve(spender_address, 7_000_000).with_owner(node.address)
    approve.fee_limit(50 * SUN).build().sign(node.key).broadcast().wait(interval=POLL)
    assert usdt.functions.allowance(node.address, spender_address) == 7_000_000

    target = PrivateKey.random().public_key.to_base58check_address()
    pull = usdt.functions.transferFrom(node.address, target, 4_000_000)
    ret = pull.with_owner(spender_address).fee_limit(100 * SUN).build().sign(spender).broadcast()
    assert ret.result(interval=POLL) is True
    assert usdt.functions.balanceOf(target) == 4_000_000
    assert usdt.functions.allowance(node.address, spender_address) == 3_000_000


def test_freeze_delegate_and_undelegate_energy(node: Node) -> None:
    tron, owner = node.tron, node.address
    receiver = node.chain.customers[1].address
    tron.trx.freeze_balance(owner, 100 * SUN, "ENERGY").build().sign(node.key).broadcast().wait(
        interval=POLL
    )
    account = tron.get_account(owner)
    assert {"type": "ENERGY", "amount": 100 * SUN} in account["frozenV2"]
    assert account["balance"] == 9_900 * SUN
    assert tron.get_account_resource(owner)["EnergyLimit"] == 1_000  # 10 energy per TRX here
    assert tron.get_can_delegated_max_size(owner)["max_size"] == 100 * SUN

    delegate = tron.trx.delegate_resource(owner, receiver, 60 * SUN, "ENERGY")
    delegate.build().sign(node.key).broadcast().wait(interval=POLL)

    [item] = tron.get_delegated_resource_v2(owner, receiver)["delegatedResource"]
    assert item == {"from": owner, "to": receiver, "frozen_balance_for_energy": 60 * SUN}
    assert tron.get_delegated_resource_account_index_v2(owner)["toAccounts"] == [receiver]
    assert tron.get_energy(receiver) == 600
    account = tron.get_account(owner)
    assert {"type": "ENERGY", "amount": 40 * SUN} in account["frozenV2"]
    assert account["account_resource"]["delegated_frozenV2_balance_for_energy"] == 60 * SUN
    with pytest.raises(ValidationError, match="available FreezeEnergyV2 balance"):
        tron.trx.delegate_resource(owner, receiver, 41 * SUN, "ENERGY").build().sign(
            node.key
        ).broadcast()

    undelegate = tron.trx.undelegate_resource(owner, receiver, 60 * SUN, "ENERGY")
    undelegate.build().sign(node.key).broadcast().wait(interval=POLL)
    assert tron.get_delegated_resource_v2(owner, receiver) == {}
    assert tron.get_energy(receiver) == 0
    assert {"type": "ENERGY", "amount": 100 * SUN} in tron.get_account(owner)["frozenV2"]
    # The devnet has no unstaking wait: unfreezing gives the TRX back at once.
    before = tron.get_account(owner)["balance"]
    unfreeze = tron.trx.unfreeze_balance(owner, "ENERGY", unfreeze_balance=100 * SUN)
    info = unfreeze.build().sign(node.key).broadcast().wait(interval=POLL)
    account = tron.get_account(owner)
    assert {"type": "ENERGY"} in account["frozenV2"]
    assert account["balance"] == before + 100 * SUN - info.get("fee", 0)


def test_blocks_node_and_chain_parameters(node: Node) -> None:
    tron = node.tron
    latest = tron.get_latest_block()
    number = latest["block_header"]["raw_data"].get("number", 0)  # 0 is left out
    assert tron.get_latest_block_number() >= number
    assert tron.get_block(number)["blockID"] == latest["blockID"]
    assert tron.get_block(latest["blockID"])["block_header"] == latest["block_header"]
    assert tron.get_block(None)["blockID"]
    solid_id = tron.get_latest_solid_block_id()
    assert int(solid_id[:16], 16) == tron.get_latest_solid_block_number()
    assert tron.get_node_info()["configNodeInfo"]["codeVersion"]
    [witness] = tron.list_witnesses()
    assert witness["address"] == node.chain.witness.address
    assert tron.list_nodes() == []
    parameters = {p["key"]: p.get("value", 0) for p in tron.get_chain_parameters()}
    assert parameters["getEnergyFee"] == 100
    assert parameters["getCreateNewAccountFeeInSystemContract"] == 1_000_000


def test_errors_answer_as_java_tron(node: Node) -> None:
    tron = node.tron
    with pytest.raises(TransactionNotFound):
        tron.get_transaction("ab" * 32)
    with pytest.raises(TransactionNotFound):
        tron.get_transaction_info("ab" * 32)
    # tronpy checks addresses itself; its provider sends what it is given.
    bad = tron.provider.make_request("wallet/getaccount", {"address": "TBad", "visible": True})
    assert bad["Error"].startswith("class java.lang.IllegalArgumentException")

    other = node.chain.customers[1].address
    signed = tron.trx.transfer(node.address, other, 1).build().sign(node.key)
    signed.broadcast()
    with pytest.raises(UnknownError) as dup:
        signed.broadcast()
    assert dup.value.args == ("Dup transaction.", "DUP_TRANSACTION_ERROR")

    poor = PrivateKey.random()
    node.send_trx(poor.public_key.to_base58check_address(), 2 * SUN)
    too_much = tron.trx.transfer(poor.public_key.to_base58check_address(), other, 5 * SUN)
    with pytest.raises(ValidationError, match="balance is not sufficient"):
        too_much.build().sign(poor).broadcast()

    short_lived = tron.trx.transfer(node.address, other, 2).expiration(400).build().sign(node.key)
    time.sleep(0.4 + 3 * BLOCK_SECONDS)  # blocks go past its expiration
    with pytest.raises(TransactionError, match="Transaction expired"):
        short_lived.broadcast()


async def test_tronpy_async_client(devnet: Devnet) -> None:
    """AsyncTron against the devnet mounted at /devnet (blocks on demand), given its base URL as
    a TronGrid URL, with or without a trailing slash (tronpy's urljoin drops "devnet" without
    one: the mounting app serves the java-tron paths at its root too)."""
    key = PrivateKey(devnet.chain.customers[0].private_key.secret)
    owner = key.public_key.to_base58check_address()
    fresh = PrivateKey.random().public_key.to_base58check_address()
    async with AsyncTron(AsyncHTTPProvider(devnet.url + "/")) as slashed:
        assert await slashed.get_account_balance(owner) == Decimal(10_000)
    async with AsyncTron(AsyncHTTPProvider(devnet.url)) as tron:
        assert await tron.get_account_balance(owner) == Decimal(10_000)
        usdt = await tron.get_contract(devnet.chain.usdt_contract)
        assert await usdt.functions.symbol() == "USDT"
        built = await tron.trx.transfer(owner, fresh, 4 * SUN).build()
        ret = await built.sign(key).broadcast()
        await devnet.mine()
        info = await ret.wait(interval=POLL)
        assert info["blockNumber"] == devnet.chain.head.number
        assert await tron.get_account_balance(fresh) == Decimal(4)
