"""Faucet, TRX transfers, fees, blocks and the broadcast checks, over HTTP with the real client."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable

import pytest
from tronpy import Tron
from tronpy.keys import PrivateKey

from paywarden.tron.client import TronGridError
from paywarden.tron.proto import encode_raw
from tests.tron.conftest import SUN, Devnet, trx_transfer

ACTIVATION_FEE = 1_000_000 + 100_000  # the system contract's fee plus the bandwidth burn


def address_of(key: PrivateKey) -> str:
    return key.public_key.to_base58check_address()


async def funded(devnet: Devnet, key: PrivateKey, trx: int = 100 * SUN) -> str:
    address = address_of(key)
    await devnet.faucet(address, trx=trx)
    await devnet.mine()
    return address


async def test_faucet_funds_an_account(devnet: Devnet, new_key: Callable[[], PrivateKey]) -> None:
    key = new_key()
    address = address_of(key)
    assert await devnet.client.account(address) is None

    txids = await devnet.faucet(address, trx=25 * SUN, usdt=7_500_000)

    assert len(txids) == 2
    assert await devnet.trx(address) == 25 * SUN
    assert await devnet.usdt(address) == 7_500_000
    account = await devnet.client.account(address)
    assert account is not None
    assert account["address"] == key.public_key.to_hex_address()
    # In a block only once mined.
    assert await devnet.client.transaction_info(txids[0], solidified=False) is None
    await devnet.mine()
    info = await devnet.client.transaction_info(txids[0], solidified=False)
    assert info is not None
    assert info["id"] == txids[0]
    assert info["blockNumber"] == (await devnet.client.now_block()).number


async def test_a_tronpy_signed_trx_transfer_moves_trx(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender, receiver = new_key(), new_key()
    await funded(devnet, sender)
    await funded(devnet, receiver, 1 * SUN)

    signed = await trx_transfer(tron, devnet.client, sender, address_of(receiver), 3 * SUN)
    result = await devnet.client.broadcast(signed)
    assert result.txid == signed["txID"]
    await devnet.mine()

    # An existing recipient and a fresh free-bandwidth allowance: the transfer costs nothing.
    assert await devnet.trx(address_of(sender)) == 97 * SUN
    assert await devnet.trx(address_of(receiver)) == 4 * SUN
    info = await devnet.client.transaction_info(result.txid, solidified=False)
    assert info is not None
    assert "fee" not in info
    assert info["receipt"]["net_usage"] > 200
    head = await devnet.client.now_block()
    assert result.txid in head.txids
    assert head.raw["transactions"][0]["ret"] == [{"contractRet": "SUCCESS"}]


async def test_activating_a_new_account_costs_the_activation_fee(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender = new_key()
    await funded(devnet, sender)
    newcomer = address_of(new_key())

    signed = await trx_transfer(tron, devnet.client, sender, newcomer, 2 * SUN)
    await devnet.client.broadcast(signed)
    await devnet.mine()

    assert await devnet.trx(newcomer) == 2 * SUN
    assert await devnet.trx(address_of(sender)) == 100 * SUN - 2 * SUN - ACTIVATION_FEE
    info = await devnet.client.transaction_info(signed["txID"], solidified=False)
    assert info is not None
    assert info["fee"] == ACTIVATION_FEE
    assert info["receipt"] == {"net_fee": 100_000}


async def test_bandwidth_is_burned_once_the_free_allowance_is_spent(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender, receiver = new_key(), new_key()
    await funded(devnet, sender)
    await funded(devnet, receiver, 1 * SUN)
    params = await devnet.client.chain_parameters()
    free, price = params["getFreeNetLimit"], params["getTransactionFee"]
    assert (free, price) == (600, 1000)

    used = 0
    fees = []
    for amount in (1, 2, 3):
        signed = await trx_transfer(tron, devnet.client, sender, address_of(receiver), amount)
        await devnet.client.broadcast(signed)
        await devnet.mine()
        info = await devnet.client.transaction_info(signed["txID"], solidified=False)
        assert info is not None
        size = info["receipt"].get("net_usage") or info["receipt"]["net_fee"] // price
        if used + size <= free:
            used += size
            fees.append(0)
        else:
            assert info["fee"] == size * price
            fees.append(info["fee"])
    assert fees[0] == fees[1] == 0
    assert fees[2] > 0
    assert await devnet.trx(address_of(sender)) == 100 * SUN - 6 - fees[2]


async def refused(devnet: Devnet, signed: dict[str, object]) -> TronGridError:
    with pytest.raises(TronGridError) as caught:
        await devnet.client.broadcast(signed)
    return caught.value


async def test_a_transaction_signed_by_another_key_is_refused(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    owner, thief = new_key(), new_key()
    await funded(devnet, owner)
    head = await devnet.client.now_block()
    tx = tron.trx.transfer(address_of(owner), address_of(thief), 50 * SUN).build(
        offline=True, ref_block_id=head.block_id
    )
    error = await refused(devnet, tx.sign(thief).to_json())
    assert error.code == "SIGERROR"
    assert address_of(thief) in error.message
    assert await devnet.trx(address_of(owner)) == 100 * SUN


async def test_a_tampered_transaction_is_refused(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    owner, payee, attacker = new_key(), new_key(), new_key()
    await funded(devnet, owner)
    signed = await trx_transfer(tron, devnet.client, owner, address_of(payee), 1 * SUN)

    # The amount raised after signing, the txID kept: the txID no longer hashes raw_data.
    raised = copy.deepcopy(signed)
    raised["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 90 * SUN
    assert (await refused(devnet, raised)).code == "SIGERROR"

    # The recipient swapped and the txID recomputed: the signature recovers someone else.
    redirected = copy.deepcopy(signed)
    value = redirected["raw_data"]["contract"][0]["parameter"]["value"]
    value["to_address"] = attacker.public_key.to_hex_address()
    redirected["txID"] = hashlib.sha256(encode_raw(redirected["raw_data"])).hexdigest()
    assert (await refused(devnet, redirected)).code == "SIGERROR"

    # raw_data saying something other than the signed raw_data_hex.
    lying = copy.deepcopy(raised)
    lying["txID"] = signed["txID"]
    lying["raw_data_hex"] = encode_raw(signed["raw_data"]).hex()
    assert (await refused(devnet, lying)).code == "SIGERROR"

    # An unknown field cannot ride along unsigned.
    extra = copy.deepcopy(signed)
    extra["raw_data"]["contract"][0]["parameter"]["value"]["memo"] = "hi"
    assert (await refused(devnet, extra)).code == "OTHER_ERROR"

    assert await devnet.trx(address_of(owner)) == 100 * SUN
    await devnet.client.broadcast(signed)  # the genuine one still goes through


async def test_insufficient_balance_is_refused(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    owner, payee = new_key(), new_key()
    await funded(devnet, owner, 5 * SUN)
    await funded(devnet, payee, 1 * SUN)
    error = await refused(
        devnet, await trx_transfer(tron, devnet.client, owner, address_of(payee), 6 * SUN)
    )
    assert error.code == "CONTRACT_VALIDATE_ERROR"
    assert error.message == (
        "Contract validate error : Validate TransferContract error, balance is not sufficient."
    )
    # An account never activated cannot send at all.
    ghost = new_key()
    error = await refused(
        devnet, await trx_transfer(tron, devnet.client, ghost, address_of(payee), 1)
    )
    assert error.code == "CONTRACT_VALIDATE_ERROR"


async def test_a_replayed_transaction_is_refused(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    owner, payee = new_key(), new_key()
    await funded(devnet, owner)
    await funded(devnet, payee, 1 * SUN)
    signed = await trx_transfer(tron, devnet.client, owner, address_of(payee), 1 * SUN)
    await devnet.client.broadcast(signed)
    assert (await refused(devnet, signed)).code == "DUP_TRANSACTION_ERROR"  # still pending
    await devnet.mine()
    assert (await refused(devnet, signed)).code == "DUP_TRANSACTION_ERROR"  # in a block
    assert await devnet.trx(address_of(payee)) == 2 * SUN


async def test_unknown_reference_block_and_expiry_are_refused(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    owner, payee = new_key(), new_key()
    await funded(devnet, owner)
    unknown_ref = tron.trx.transfer(address_of(owner), address_of(payee), 1).build(
        offline=True, ref_block_id="00" * 8 + "ab" * 24
    )
    assert (await refused(devnet, unknown_ref.sign(owner).to_json())).code == "TAPOS_ERROR"

    head = await devnet.client.now_block()
    expired = (
        tron.trx.transfer(address_of(owner), address_of(payee), 1)
        .expiration(-1_000)  # tronpy counts from its clock; -1 s: already expired
        .build(offline=True, ref_block_id=head.block_id)
    )
    expired._signature.append(owner.sign_msg_hash(bytes.fromhex(expired.txid)).hex())
    error = await refused(devnet, expired.to_json())
    assert error.code == "TRANSACTION_EXPIRATION_ERROR"


async def test_blocks_and_solidification(devnet: Devnet, solidify_depth: int) -> None:
    genesis = await devnet.client.now_block()
    assert genesis.number == 0
    assert (await devnet.client.solidified_block()).number == 0

    await devnet.mine(solidify_depth + 4)

    head = await devnet.client.now_block()
    solid = await devnet.client.solidified_block()
    assert head.number == solidify_depth + 4
    assert solid.number == head.number - solidify_depth
    assert head.block_id.startswith(f"{head.number:016x}")
    by_number = await devnet.client.block_by_num(head.number)
    assert by_number is not None
    assert by_number.block_id == head.block_id
    parent = await devnet.client.block_by_num(head.number - 1)
    assert parent is not None
    assert head.parent_hash == parent.block_id
    assert head.timestamp > parent.timestamp
    assert await devnet.client.block_by_num(head.number + 1) is None


async def test_create_transaction_returns_a_signable_transaction(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    owner, payee = new_key(), new_key()
    await funded(devnet, owner)
    tx = await devnet.client.create_transaction(address_of(owner), address_of(payee), 5 * SUN)
    assert hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() == tx["txID"]
    tx["signature"] = [owner.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]
    await devnet.client.broadcast(tx)
    assert await devnet.trx(address_of(payee)) == 5 * SUN

    with pytest.raises(TronGridError) as caught:
        await devnet.client.create_transaction(address_of(owner), address_of(payee), 10**15)
    assert "balance is not sufficient" in caught.value.message
