"""The devnet's answers have the shapes of TronGrid's published samples (fixtures/, sources in
fixtures/SOURCES.md), compared field by field with `assert_same_shape`.

Each call is made as the sample's was: java-tron's default `visible` false, hex addresses (and
again with `visible` true at the end, base58 addresses expected). Where
a key may differ for a reason that is not a fidelity bug (the publisher cut it, or it holds a
value the devnet's account can't have, such as TRC-10 holdings), the test names it `optional`
with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import pytest
from tronpy import Tron
from tronpy.keys import PrivateKey

from paywarden.tron import crypto
from tests.tron.conftest import SUN, Devnet, trx_transfer, usdt_transfer
from tests.tron.samples import ShapeMismatch, assert_same_shape, sample

NO_TRC10 = ("assetV2", "free_asset_net_usageV2", "asset_optimized", "assetNetUsed", "assetNetLimit")
FREE_BANDWIDTH = ("fee", "net_fee", "net_usage")  # the sample burned TRX for bandwidth
# protobuf SmartContract fields left out of the sample because they were zero on Nile.
CONTRACT_ZEROS = ("call_value", "consume_user_resource_percent", "version", "trx_hash")
# The publisher cut the ABI to one entry (`name()`: a constant view with an output); other
# entries have inputs, may have no output or name (constructor), are not constant (protobuf leaves
# out false) or have no stateMutability (events).
ABI_FIELDS = (
    "$.abi.entrys[].inputs",
    "$.abi.entrys[].outputs",
    "$.abi.entrys[].constant",
    "$.abi.entrys[].name",
    "$.abi.entrys[].stateMutability",
    "$.abi.entrys[].payable",
    "$.abi.entrys[].anonymous",
    "$.abi.entrys[].outputs[].name",
    "$.abi.entrys[].outputs[].indexed",
)


@dataclass
class World:
    """A devnet where `key` holds TRX and USDT and has sent `other` a USDT and a TRX transfer."""

    devnet: Devnet
    key: PrivateKey
    address: str
    other: str
    usdt_txid: str
    trx_txid: str

    @property
    def hex(self) -> str:
        return crypto.to_hex(self.address)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.devnet.control.post(path, json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    async def block_of(self, txid: str) -> int:
        info = await self.post("/wallet/gettransactioninfobyid", {"value": txid})
        return int(info["blockNumber"])


@pytest.fixture
async def world(devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]) -> World:
    key, other = new_key(), new_key().public_key.to_base58check_address()
    address = key.public_key.to_base58check_address()
    await devnet.faucet(address, trx=1_000 * SUN, usdt=50_000_000)
    await devnet.mine()
    contract = devnet.chain.usdt_contract
    usdt = await usdt_transfer(tron, devnet.client, contract, key, other, 1_000_000)
    await devnet.client.broadcast(usdt)
    await devnet.mine()
    trx = await trx_transfer(tron, devnet.client, key, other, 2 * SUN)
    await devnet.client.broadcast(trx)
    await devnet.mine()
    return World(devnet, key, address, other, usdt["txID"], trx["txID"])


def signed(tx: dict[str, Any], key: PrivateKey) -> dict[str, Any]:
    """A transaction JSON as a wallet signs it: the txid's secp256k1 signature added."""
    return {**tx, "signature": [key.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]}


# --- blocks and transactions ---


async def test_blocks(world: World) -> None:
    number = await world.block_of(world.usdt_txid)
    cut = {"transactions"}  # the publisher cut every block's transactions
    assert_same_shape(
        sample("wallet_getnowblock"), await world.post("/wallet/getnowblock"), optional=cut
    )
    block = await world.post("/wallet/getblockbynum", {"num": number})
    assert_same_shape(sample("wallet_getblockbynum"), block, optional=cut)
    header = await world.post("/wallet/getblock", {"id_or_num": str(number), "detail": False})
    assert_same_shape(sample("wallet_getblock"), header)
    latest = await world.post("/wallet/getblockbylatestnum", {"num": 2})
    assert_same_shape(sample("wallet_getblockbylatestnum"), latest, optional=cut)


async def test_a_block_with_its_transactions_as_on_mainnet(world: World) -> None:
    number = await world.block_of(world.trx_txid)
    block = await world.post("/wallet/getblockbynum", {"num": number})
    assert_same_shape(sample("mainnet_wallet_getblockbynum"), block)


async def test_a_block_s_transactions_have_the_transaction_shape(world: World) -> None:
    block = await world.post(
        "/wallet/getblockbynum", {"num": await world.block_of(world.usdt_txid)}
    )
    (tx,) = block["transactions"]
    assert_same_shape(sample("wallet_gettransactionbyid"), tx)


async def test_transaction_by_id(world: World) -> None:
    tx = await world.post("/wallet/gettransactionbyid", {"value": world.usdt_txid})
    assert_same_shape(sample("wallet_gettransactionbyid"), tx)


async def test_transaction_info_by_id(world: World) -> None:
    info = await world.post("/wallet/gettransactioninfobyid", {"value": world.usdt_txid})
    # A TRC-20 transfer makes no internal transaction; the sample's call made some.
    optional = {*FREE_BANDWIDTH, "internal_transactions"}
    assert_same_shape(sample("wallet_gettransactioninfobyid"), info, optional=optional)


async def test_transaction_infos_by_block_num(world: World) -> None:
    number = await world.block_of(world.trx_txid)
    infos = await world.post("/wallet/gettransactioninfobyblocknum", {"num": number})
    assert len(infos) == 1
    assert_same_shape(sample("wallet_gettransactioninfobyblocknum"), infos, optional=FREE_BANDWIDTH)


async def test_transaction_infos_by_id_as_on_mainnet(world: World, tron: Tron) -> None:
    usdt = await world.post("/wallet/gettransactioninfobyid", {"value": world.usdt_txid})
    # The mainnet sample's caller staked energy and paid bandwidth in TRX; the devnet's sender
    # burns TRX for energy and has free bandwidth. A difference left open (issue 19): mainnet
    # USDT pays TRON's dynamic-energy penalty (`energy_penalty_total`), the devnet has none.
    penalty = "energy_penalty_total"
    optional = {"energy_fee", "net_usage", "net_fee", "$.receipt.energy_usage", penalty}
    assert_same_shape(sample("mainnet_wallet_gettransactioninfobyid_usdt"), usdt, optional=optional)
    trx = await world.post("/wallet/gettransactioninfobyid", {"value": world.trx_txid})
    # The devnet's TRX transfer creates its recipient's account: it burns the creation fees.
    assert_same_shape(
        sample("mainnet_wallet_gettransactioninfobyid_trx"), trx, optional=FREE_BANDWIDTH
    )
    contract = world.devnet.chain.usdt_contract
    starved = await usdt_transfer(
        tron, world.devnet.client, contract, world.key, world.other, 1, fee_limit=SUN
    )
    await world.devnet.client.broadcast(starved)
    await world.devnet.mine()
    failed = await world.post("/wallet/gettransactioninfobyid", {"value": starved["txID"]})
    # Bandwidth: the sample's was free, the devnet sender's is spent by then.
    optional = {*FREE_BANDWIDTH, penalty}
    assert_same_shape(
        sample("mainnet_wallet_gettransactioninfobyid_out_of_energy"), failed, optional=optional
    )


async def test_transaction_infos_by_block_num_as_on_mainnet(world: World) -> None:
    number = await world.block_of(world.usdt_txid)
    infos = await world.post("/wallet/gettransactioninfobyblocknum", {"num": number})
    # The sample's caller had staked energy and bandwidth (no fee), and USDT's deployer paid a
    # share (origin_energy_usage); the devnet's sender burns TRX for all of it, so java-tron leaves
    # the zero energy_usage out and writes the fees.
    optional = {"fee", "energy_fee", "$[].receipt.energy_usage", "origin_energy_usage"}
    assert_same_shape(
        sample("mainnet_wallet_gettransactioninfobyblocknum"), infos, optional=optional
    )


async def test_solidity_endpoints(world: World, solidify_depth: int) -> None:
    # D: each of these has a /walletsolidity twin answering the same shape once solidified.
    await world.devnet.mine(solidify_depth)
    usdt_block = await world.block_of(world.usdt_txid)
    trx_block = await world.block_of(world.trx_txid)
    cut = {"transactions"}
    for name, path, body, optional in [
        ("wallet_getnowblock", "/walletsolidity/getnowblock", {}, cut),
        ("wallet_getblockbynum", "/walletsolidity/getblockbynum", {"num": usdt_block}, cut),
        (
            "wallet_gettransactionbyid",
            "/walletsolidity/gettransactionbyid",
            {"value": world.usdt_txid},
            (),
        ),
        (
            "wallet_gettransactioninfobyid",
            "/walletsolidity/gettransactioninfobyid",
            {"value": world.usdt_txid},
            {*FREE_BANDWIDTH, "internal_transactions"},
        ),
        (
            "wallet_gettransactioninfobyblocknum",
            "/walletsolidity/gettransactioninfobyblocknum",
            {"num": trx_block},
            FREE_BANDWIDTH,
        ),
    ]:
        answer = await world.post(path, body)
        assert answer, path  # solidified by now
        try:
            assert_same_shape(sample(name), answer, optional=optional)
        except ShapeMismatch as exc:
            raise ShapeMismatch(f"{path}: {exc}") from exc


# --- accounts ---


async def test_account(world: World) -> None:
    account = await world.post("/wallet/getaccount", {"address": world.hex})
    assert_same_shape(sample("wallet_getaccount"), account, optional=NO_TRC10)


async def test_account_resource_and_net(world: World) -> None:
    resource = await world.post("/wallet/getaccountresource", {"address": world.hex})
    assert_same_shape(sample("wallet_getaccountresource"), resource, optional=NO_TRC10)
    net = await world.post("/wallet/getaccountnet", {"address": world.hex})
    assert_same_shape(sample("wallet_getaccountnet"), net, optional=NO_TRC10)


async def test_v1_account(world: World) -> None:
    response = await world.devnet.control.get(f"/v1/accounts/{world.address}")
    assert response.status_code == 200, response.text
    # The 2019 sample is a witness with stake-1.0 energy and TRC-10 issues; TronGrid's accounts
    # have since gained the fields of java-tron's account (the current getaccount sample) and
    # `trc20`, so those may appear.
    witness = (
        "allowance",
        "asset_issued_ID",
        "asset_issued_name",
        "is_witness",
        "latest_withdraw_time",
        "energy_usage",
        "frozen_balance_for_energy",
    )
    since = (*sample("wallet_getaccount"), *sample("wallet_getaccount")["account_resource"])
    optional = {*witness, *since, "trc20"}
    assert_same_shape(sample("v1_accounts"), response.json(), optional=optional)


async def test_v1_events_as_on_mainnet(world: World) -> None:
    contract = world.devnet.chain.usdt_contract
    response = await world.devnet.control.get(
        f"/v1/contracts/{contract}/events",
        params={"event_name": "Transfer", "limit": 1},
    )
    assert response.status_code == 200, response.text
    # Asked without only_confirmed (the devnet's transfer is not solidified yet): TronGrid marks
    # such an event `_unconfirmed`; the sample was asked with only_confirmed=true.
    answer = response.json()
    assert answer["meta"]["fingerprint"]  # a next page, as the sample's
    assert_same_shape(sample("mainnet_v1_contracts_events"), answer, optional={"_unconfirmed"})


async def test_v1_trc20_history_as_on_mainnet(world: World) -> None:
    response = await world.devnet.control.get(f"/v1/accounts/{world.other}/transactions/trc20")
    assert response.status_code == 200, response.text
    # The sample, as published, has no `meta`; TronGrid's pages carry one (the events sample).
    assert_same_shape(
        sample("mainnet_v1_accounts_transactions_trc20"), response.json(), optional={"meta"}
    )


# --- node, chain and contracts ---


async def test_node_info(world: World) -> None:
    # The publisher showed "key fields only": the rest of java-tron's NodeInfo may appear.
    cut = (
        "peerList",
        "peerInfoList",
        "cheatWitnessInfoMap",
        "activeNodeSize",
        "passiveNodeSize",
        "sendNodeSize",
        "sameIpMaxConnectCount",
        "backupListenPort",
        "backupMemberSize",
        "backupPriority",
        "minParticipationRate",
        "minTimeRatio",
        "maxTimeRatio",
        "allowCreationOfContracts",
        "allowAdaptiveEnergy",
        "processCpuRate",
        "memoryDescInfoList",
        "deadLockThreadInfoList",
    )
    assert_same_shape(
        sample("wallet_getnodeinfo"), await world.post("/wallet/getnodeinfo"), optional=cut
    )


async def test_chain_parameters(world: World) -> None:
    # java-tron leaves out a zero parameter's value; the 8 published ones are all non-zero.
    assert_same_shape(
        sample("wallet_getchainparameters"),
        await world.post("/wallet/getchainparameters"),
        optional={"value"},
    )


async def test_contract_and_contract_info(world: World) -> None:
    usdt = crypto.to_hex(world.devnet.chain.usdt_contract)
    contract = await world.post("/wallet/getcontract", {"value": usdt})
    assert_same_shape(
        sample("wallet_getcontract"), contract, optional={*CONTRACT_ZEROS, *ABI_FIELDS}
    )
    info = await world.post("/wallet/getcontractinfo", {"value": usdt})
    # Recorded without `abi` (the publisher's placeholder); `energy_factor` is left out at 0, and
    # so is `update_cycle` (the maintenance cycle's number) on a devnet younger than one cycle.
    optional = {*CONTRACT_ZEROS, "$.smart_contract.abi", "energy_factor", "update_cycle"}
    assert_same_shape(sample("wallet_getcontractinfo"), info, optional=optional)


async def test_trigger_constant_contract(world: World) -> None:
    usdt = crypto.to_hex(world.devnet.chain.usdt_contract)
    answer = await world.post(
        "/wallet/triggerconstantcontract",
        {
            "owner_address": world.hex,
            "contract_address": usdt,
            "function_selector": "balanceOf(address)",
            "parameter": world.hex[2:].rjust(64, "0"),
        },
    )
    assert_same_shape(sample("wallet_triggerconstantcontract"), answer)


async def test_trigger_smart_contract_and_estimate_energy(world: World) -> None:
    call = {
        "owner_address": world.hex,
        "contract_address": crypto.to_hex(world.devnet.chain.usdt_contract),
        "function_selector": "transfer(address,uint256)",
        "parameter": crypto.to_hex(world.other)[2:].rjust(64, "0") + f"{100:064x}",
    }
    answer = await world.post("/wallet/triggersmartcontract", {**call, "fee_limit": 100 * SUN})
    assert_same_shape(sample("wallet_triggersmartcontract"), answer)
    estimate = await world.post("/wallet/estimateenergy", call)
    assert_same_shape(sample("wallet_estimateenergy"), estimate)


# --- building and broadcasting ---


async def test_create_and_broadcast(world: World, new_key: Callable[[], PrivateKey]) -> None:
    body = {"owner_address": world.hex, "to_address": crypto.to_hex(world.other), "amount": SUN}
    tx = await world.post("/wallet/createtransaction", body)
    assert_same_shape(sample("wallet_createtransaction"), tx)
    accepted = await world.post("/wallet/broadcasttransaction", signed(tx, world.key))
    # `code` SUCCESS is response_code 0, which protobuf-JSON leaves out.
    assert_same_shape(sample("wallet_broadcasttransaction"), accepted, optional={"code"})
    again = await world.post("/wallet/broadcasttransaction", signed(tx, world.key))
    assert again.get("code") == "DUP_TRANSACTION_ERROR", again
    assert_same_shape(sample("wallet_broadcasttransaction_dup_transaction_error"), again)

    other = await world.post("/wallet/createtransaction", {**body, "amount": 2 * SUN})
    forged = await world.post("/wallet/broadcasttransaction", signed(other, new_key()))
    assert forged.get("code") == "SIGERROR", forged
    assert_same_shape(sample("wallet_broadcasttransaction_sigerror"), forged)


async def test_broadcast_on_an_unknown_block_is_a_tapos_error(world: World, tron: Tron) -> None:
    tx = tron.trx.transfer(world.address, world.other, SUN)
    unknown = tx.build(offline=True, ref_block_id="00000000000000ff" + "ab" * 24)
    refused = await world.post("/wallet/broadcasttransaction", unknown.sign(world.key).to_json())
    assert refused.get("code") == "TAPOS_ERROR", refused
    assert_same_shape(sample("wallet_broadcasttransaction_tapos_error"), refused)


async def test_freeze_and_delegate(world: World) -> None:
    freeze = await world.post(
        "/wallet/freezebalancev2",
        {"owner_address": world.hex, "frozen_balance": 100 * SUN, "resource": "ENERGY"},
    )
    assert_same_shape(sample("wallet_freezebalancev2"), freeze)
    accepted = await world.post("/wallet/broadcasttransaction", signed(freeze, world.key))
    assert accepted.get("result") is True, accepted
    await world.devnet.mine()
    body = {
        "owner_address": world.hex,
        "receiver_address": crypto.to_hex(world.other),
        "balance": 50 * SUN,
        "resource": "ENERGY",
    }
    delegation = await world.post("/wallet/delegateresource", body)
    assert_same_shape(sample("wallet_delegateresource"), delegation)
    too_much = await world.post("/wallet/delegateresource", {**body, "balance": 200 * SUN})
    assert_same_shape(sample("wallet_delegateresource_error"), too_much)
    nothing_yet = await world.post("/wallet/undelegateresource", body)
    assert_same_shape(sample("wallet_undelegateresource_error"), nothing_yet)
    accepted = await world.post("/wallet/broadcasttransaction", signed(delegation, world.key))
    assert accepted.get("result") is True, accepted
    await world.devnet.mine()
    undelegation = await world.post("/wallet/undelegateresource", body)
    assert_same_shape(sample("wallet_undelegateresource"), undelegation)


async def test_what_is_not_there_is_an_empty_object(world: World) -> None:
    # D's pages: "Returns {} if ..." the account, transaction, block or contract does not exist;
    # an empty block's infos are [].
    nobody = crypto.to_hex(world.devnet.chain.usdt_contract)[:-8] + "00000000"
    unknown = "ab" * 32
    for path, body in [
        ("/wallet/getaccount", {"address": nobody}),
        ("/wallet/gettransactionbyid", {"value": unknown}),
        ("/wallet/gettransactioninfobyid", {"value": unknown}),
        ("/wallet/getblockbynum", {"num": 10**6}),
        ("/wallet/getcontract", {"value": nobody}),
    ]:
        assert await world.post(path, body) == {}, path
    await world.devnet.mine()
    head = await world.post("/wallet/getnowblock")
    number = head["block_header"]["raw_data"]["number"]
    assert await world.post("/wallet/gettransactioninfobyblocknum", {"num": number}) == []


def test_the_comparison_itself() -> None:
    account = sample("wallet_getaccount")
    assert_same_shape(account, {**account, "balance": 1})  # values may differ
    assert_same_shape({"fee": 0, "log": [], "ret": [{}]}, {"ret": []})  # zero values omitted
    with pytest.raises(ShapeMismatch, match=r"^\$\.balance: missing"):
        assert_same_shape(account, {k: v for k, v in account.items() if k != "balance"})
    with pytest.raises(ShapeMismatch, match=r"^\$\.balance: the sample has a number"):
        assert_same_shape(account, {**account, "balance": "1"})
    keys = [{"address": "41" + "00" * 20, "weight": True}]
    forged = {**account, "owner_permission": {**account["owner_permission"], "keys": keys}}
    with pytest.raises(ShapeMismatch, match=r"^\$\.owner_permission\.keys\[0\]\.weight"):
        assert_same_shape(account, forged)
    base58 = {**account, "address": "TWHjPoDqj6vhCXgnVQVrbL6HRoYpu7vyfB"}
    with pytest.raises(ShapeMismatch, match=r"^\$\.address: the sample has 42 hex digits"):
        assert_same_shape(account, base58)
    with pytest.raises(ShapeMismatch, match=r"^\$\.trc20: in the answer"):
        assert_same_shape(account, {**account, "trc20": []})
    assert_same_shape(account, {**account, "trc20": []}, optional={"trc20"})


# --- the same calls with "visible": true (base58 addresses in and out) ---


async def test_visible_true(world: World) -> None:
    usdt, me = world.devnet.chain.usdt_contract, world.address
    block = await world.block_of(world.usdt_txid)
    call = {"owner_address": me, "contract_address": usdt}
    transfer = crypto.to_hex(world.other)[2:].rjust(64, "0") + f"{100:064x}"
    asked: list[tuple[str, str, dict[str, Any], Collection[str]]] = [
        ("wallet_getaccount", "/wallet/getaccount", {"address": me}, NO_TRC10),
        ("wallet_getaccountresource", "/wallet/getaccountresource", {"address": me}, NO_TRC10),
        ("wallet_getblockbynum", "/wallet/getblockbynum", {"num": block}, ("transactions",)),
        ("wallet_gettransactionbyid", "/wallet/gettransactionbyid", {"value": world.usdt_txid}, ()),
        (
            "wallet_gettransactioninfobyid",
            "/wallet/gettransactioninfobyid",
            {"value": world.usdt_txid},
            (*FREE_BANDWIDTH, "internal_transactions"),
        ),
        (
            "wallet_getcontract",
            "/wallet/getcontract",
            {"value": usdt},
            (*CONTRACT_ZEROS, *ABI_FIELDS),
        ),
        (
            "wallet_createtransaction",
            "/wallet/createtransaction",
            {"owner_address": me, "to_address": world.other, "amount": SUN},
            (),
        ),
        (
            "wallet_triggerconstantcontract",
            "/wallet/triggerconstantcontract",
            {
                **call,
                "function_selector": "balanceOf(address)",
                "parameter": world.hex[2:].rjust(64, "0"),
            },
            (),
        ),
        (
            "wallet_triggersmartcontract",
            "/wallet/triggersmartcontract",
            {
                **call,
                "function_selector": "transfer(address,uint256)",
                "parameter": transfer,
                "fee_limit": 100 * SUN,
            },
            (),
        ),
        (
            "wallet_freezebalancev2",
            "/wallet/freezebalancev2",
            {"owner_address": me, "frozen_balance": 100 * SUN, "resource": "ENERGY"},
            (),
        ),
    ]
    for name, path, body, optional in asked:
        answer = await world.post(path, {**body, "visible": True})
        try:
            assert_same_shape(sample(name), answer, optional=optional, visible=True)
        except ShapeMismatch as exc:
            raise ShapeMismatch(f"{path} (visible): {exc}") from exc
