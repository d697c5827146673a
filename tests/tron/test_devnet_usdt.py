"""USDT transfers, energy, events paging, reorgs and energy delegation on the devnet."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from tronpy import Tron
from tronpy.keys import PrivateKey

from paywarden.tron.devnet.chain import ChainParams
from tests.tron.conftest import SUN, Devnet, usdt_transfer

PARAMS = ChainParams()


def address_of(key: PrivateKey) -> str:
    return key.public_key.to_base58check_address()


def hex20(address: str) -> str:
    from paywarden.tron.crypto import to_raw

    return "0x" + to_raw(address)[1:].hex()


async def balance_of(devnet: Devnet, address: str) -> int:
    result = await devnet.client.trigger_constant_contract(
        address, devnet.chain.usdt_contract, "balanceOf(address)", "00" * 12 + hex20(address)[2:]
    )
    return int(result["constant_result"][0], 16)


async def holder(devnet: Devnet, key: PrivateKey, *, trx: int = 100 * SUN, usdt: int = 0) -> str:
    address = address_of(key)
    await devnet.faucet(address, trx=trx, **({"usdt": usdt} if usdt else {}))
    await devnet.mine()
    return address


async def test_usdt_transfer_burns_energy_and_moves_usdt(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender, receiver = new_key(), new_key()
    await holder(devnet, sender, usdt=50_000_000)
    contract = devnet.chain.usdt_contract

    # To an address holding no USDT (and not even activated): the dearer transfer.
    signed = await usdt_transfer(
        tron, devnet.client, contract, sender, address_of(receiver), 10_000_000
    )
    await devnet.client.broadcast(signed)
    await devnet.mine()
    info = await devnet.client.transaction_info(signed["txID"], solidified=False)
    assert info is not None
    first_fee = PARAMS.usdt_transfer_energy_new_holder * PARAMS.energy_fee
    assert info["receipt"]["energy_fee"] == first_fee
    assert info["receipt"]["result"] == "SUCCESS"
    assert info["fee"] == first_fee  # bandwidth came from the free allowance
    assert info["log"][0]["topics"][0].startswith("ddf252ad")

    # To a holder: the cheaper one.
    again = await usdt_transfer(
        tron, devnet.client, contract, sender, address_of(receiver), 5_000_000
    )
    await devnet.client.broadcast(again)
    await devnet.mine()
    info = await devnet.client.transaction_info(again["txID"], solidified=False)
    assert info is not None
    assert info["receipt"]["energy_fee"] == PARAMS.usdt_transfer_energy * PARAMS.energy_fee

    assert await devnet.usdt(address_of(sender)) == 35_000_000
    # A TRC-20 transfer does not activate its recipient (as on TRON): ask the contract.
    assert await devnet.client.account(address_of(receiver)) is None
    assert await balance_of(devnet, address_of(receiver)) == 15_000_000
    assert await devnet.trx(address_of(sender)) == 100 * SUN - first_fee - int(info["fee"])


async def test_usdt_transfer_beyond_the_balance_reverts_on_chain(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender, receiver = new_key(), new_key()
    await holder(devnet, sender, usdt=1_000_000)
    signed = await usdt_transfer(
        tron, devnet.client, devnet.chain.usdt_contract, sender, address_of(receiver), 2_000_000
    )
    await devnet.client.broadcast(signed)  # accepted, as TronGrid would: it fails on chain
    await devnet.mine()
    info = await devnet.client.transaction_info(signed["txID"], solidified=False)
    assert info is not None
    assert info["result"] == "FAILED"
    assert info["receipt"]["result"] == "REVERT"
    assert info["fee"] == PARAMS.usdt_revert_energy * PARAMS.energy_fee
    assert "log" not in info
    assert await devnet.usdt(address_of(sender)) == 1_000_000
    page = await devnet.client.transfer_events(
        devnet.chain.usdt_contract, block_number=info["blockNumber"]
    )
    assert page.events == []


async def test_a_fee_limit_too_low_runs_out_of_energy(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    sender, receiver = new_key(), new_key()
    await holder(devnet, sender, usdt=1_000_000)
    signed = await usdt_transfer(
        tron,
        devnet.client,
        devnet.chain.usdt_contract,
        sender,
        address_of(receiver),
        1,
        fee_limit=1 * SUN,
    )
    await devnet.client.broadcast(signed)
    await devnet.mine()
    info = await devnet.client.transaction_info(signed["txID"], solidified=False)
    assert info is not None
    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["fee"] == 1 * SUN
    assert await balance_of(devnet, address_of(receiver)) == 0


async def test_constant_calls_read_balances_and_estimate_energy(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    owner = await holder(devnet, new_key(), usdt=1_234_567)
    other = address_of(new_key())
    contract = devnet.chain.usdt_contract
    parameter = "00" * 12 + hex20(owner)[2:]
    result = await devnet.client.trigger_constant_contract(
        owner, contract, "balanceOf(address)", parameter
    )
    assert result["result"] == {"result": True}
    assert int(result["constant_result"][0], 16) == 1_234_567

    transfer = "00" * 12 + hex20(other)[2:] + f"{1_000:064x}"
    estimate = await devnet.client.trigger_constant_contract(
        owner, contract, "transfer(address,uint256)", transfer
    )
    assert estimate["energy_used"] == PARAMS.usdt_transfer_energy_new_holder


async def test_pay_sends_usdt_from_a_built_in_customer(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    merchant = address_of(new_key())
    state = (await devnet.control.get("/state")).json()
    customer = state["customers"][1]["address"]

    response = await devnet.control.post(
        "/pay", json={"to": merchant, "amount": 12_500_000, "from": customer}
    )
    assert response.status_code == 200, response.text
    tx_hash = response.json()["tx_hash"]
    await devnet.mine()

    assert await balance_of(devnet, merchant) == 12_500_000
    page = await devnet.client.transfer_events(devnet.chain.usdt_contract, limit=1)
    [event] = page.events
    assert event["transaction_id"] == tx_hash
    assert event["event_name"] == "Transfer"
    assert event["contract_address"] == devnet.chain.usdt_contract
    assert event["result"]["from"] == hex20(customer)
    assert event["result"]["to"] == hex20(merchant)
    assert event["result"]["value"] == "12500000"
    assert event["event_index"] == 0
    assert event["block_number"] == (await devnet.client.now_block()).number

    bad = await devnet.control.post("/pay", json={"to": merchant, "amount": 1, "from": merchant})
    assert bad.status_code == 400
    assert bad.json()["code"] == "DEVNET_ERROR"
    bad = await devnet.control.post("/pay", json={"to": "nope", "amount": 1})
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_ADDRESS"


async def test_events_page_with_fingerprints_and_confirmation(
    devnet: Devnet, solidify_depth: int, new_key: Callable[[], PrivateKey]
) -> None:
    merchant = address_of(new_key())
    contract = devnet.chain.usdt_contract
    hashes = []
    for amount in range(1, 6):
        response = await devnet.control.post("/pay", json={"to": merchant, "amount": amount})
        hashes.append(response.json()["tx_hash"])
        await devnet.mine()

    seen: list[str] = []
    fingerprint = None
    pages = 0
    while True:
        page = await devnet.client.transfer_events(
            contract, limit=2, fingerprint=fingerprint, order_by="block_timestamp,asc"
        )
        pages += 1
        seen += [e["transaction_id"] for e in page.events]
        if page.fingerprint is None:
            break
        fingerprint = page.fingerprint
    assert pages == 3
    assert seen == hashes

    newest_first = await devnet.client.transfer_events(contract, limit=200)
    assert [e["transaction_id"] for e in newest_first.events] == hashes[::-1]

    # Confirmed: solidified, i.e. at least solidify_depth blocks under the head.
    confirmed = await devnet.client.transfer_events(contract, only_confirmed=True)
    solid = (await devnet.client.solidified_block()).number
    assert [e["block_number"] for e in confirmed.events] == [
        e["block_number"] for e in newest_first.events if e["block_number"] <= solid
    ]
    assert len(confirmed.events) == 5 - solidify_depth
    await devnet.mine(solidify_depth)
    assert len((await devnet.client.transfer_events(contract, only_confirmed=True)).events) == 5

    one_block = await devnet.client.transfer_events(
        contract, block_number=newest_first.events[0]["block_number"]
    )
    assert [e["transaction_id"] for e in one_block.events] == [hashes[-1]]


async def test_a_reorg_replaces_unsolidified_blocks(
    devnet: Devnet, solidify_depth: int, new_key: Callable[[], PrivateKey]
) -> None:
    merchant = address_of(new_key())
    contract = devnet.chain.usdt_contract
    await devnet.mine(solidify_depth + 1)
    tx_hash = (await devnet.control.post("/pay", json={"to": merchant, "amount": 9})).json()[
        "tx_hash"
    ]
    await devnet.mine()
    head = await devnet.client.now_block()
    assert tx_hash in head.txids

    response = await devnet.control.post("/reorg", json={"depth": 1})
    assert response.status_code == 200, response.text

    new_head = await devnet.client.now_block()
    assert new_head.number == head.number
    assert new_head.block_id != head.block_id
    assert tx_hash not in new_head.txids
    assert await devnet.client.transaction_info(tx_hash, solidified=False) is None
    assert await balance_of(devnet, merchant) == 0
    assert (await devnet.client.transfer_events(contract, block_number=head.number)).events == []

    # Too deep: the solidified blocks are final.
    too_deep = await devnet.control.post("/reorg", json={"depth": solidify_depth + 1})
    assert too_deep.status_code == 400


async def test_a_reorg_may_reinclude_the_transactions(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    merchant = address_of(new_key())
    tx_hash = (await devnet.control.post("/pay", json={"to": merchant, "amount": 9})).json()[
        "tx_hash"
    ]
    await devnet.mine(2)
    old = await devnet.client.transaction_info(tx_hash, solidified=False)
    assert old is not None
    replaced = await devnet.client.block_by_num(old["blockNumber"])
    assert replaced is not None

    response = await devnet.control.post("/reorg", json={"depth": 2, "reinclude": True})
    assert response.status_code == 200, response.text

    info = await devnet.client.transaction_info(tx_hash, solidified=False)
    assert info is not None
    assert info["blockNumber"] == old["blockNumber"]
    block = await devnet.client.block_by_num(old["blockNumber"])
    assert block is not None
    assert block.block_id != replaced.block_id
    assert tx_hash in block.txids
    assert await balance_of(devnet, merchant) == 9


async def test_delegated_energy_is_used_before_burning_trx(
    devnet: Devnet, tron: Tron, new_key: Callable[[], PrivateKey]
) -> None:
    staker_key, sender_key, receiver = new_key(), new_key(), new_key()
    staker = await holder(devnet, staker_key, trx=20_000 * SUN)
    sender = await holder(devnet, sender_key, usdt=10_000_000)
    client = devnet.client

    # 10,000 TRX delegated: 100,000 energy a day, more than a transfer's 64,285... or 130,285.
    tx = await client.delegate_resource(staker, sender, 10_000 * SUN)
    assert hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() == tx["txID"]
    tx["signature"] = [staker_key.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]
    await client.broadcast(tx)
    await devnet.mine()
    assert await devnet.trx(staker) == 10_000 * SUN
    resource = await client.account_resource(sender)
    assert resource["EnergyLimit"] == 10_000 * PARAMS.energy_per_trx

    signed = await usdt_transfer(
        tron, client, devnet.chain.usdt_contract, sender_key, address_of(receiver), 1_000_000
    )
    await client.broadcast(signed)
    await devnet.mine()
    info = await client.transaction_info(signed["txID"], solidified=False)
    assert info is not None
    energy = PARAMS.usdt_transfer_energy_new_holder
    assert info["receipt"]["energy_usage"] == 100_000
    assert info["receipt"]["energy_fee"] == (energy - 100_000) * PARAMS.energy_fee
    assert (await client.account_resource(sender))["EnergyUsed"] > 0

    tx = await client.undelegate_resource(staker, sender, 10_000 * SUN)
    tx["signature"] = [staker_key.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]
    await client.broadcast(tx)
    await devnet.mine()
    assert await devnet.trx(staker) == 20_000 * SUN
    assert "EnergyLimit" not in await client.account_resource(sender)
