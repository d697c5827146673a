"""The devnet's java-tron and TronGrid v1 API over plain HTTP, where tronpy doesn't go: `visible`
true and false, GET with a query string, the block lists, the resource reads, estimateenergy and
TronGrid's TRC-20 history with its paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tronpy.keys import PrivateKey

from paywarden.tron import crypto
from tests.tron.conftest import SUN, Devnet


async def call(devnet: Devnet, path: str, body: dict[str, Any] | None = None) -> Any:
    response = await devnet.control.post(path, json=body or {})
    assert response.status_code == 200, response.text
    return response.json()


def sign(tx: dict[str, Any], key: crypto.KeyPair) -> dict[str, Any]:
    return {**tx, "signature": [key.sign(bytes.fromhex(tx["txID"])).hex()]}


async def test_create_transaction_visible_true_and_false(devnet: Devnet) -> None:
    customer, other = devnet.chain.customers[0], devnet.chain.customers[1]
    body = {"owner_address": customer.address, "to_address": other.address, "amount": 7}

    shown = await call(devnet, "/wallet/createtransaction", {**body, "visible": True})
    hidden = await call(devnet, "/wallet/createtransaction", body)

    assert shown["visible"] is True
    assert hidden["visible"] is False
    assert shown["raw_data"]["contract"][0]["parameter"]["value"] == {
        "owner_address": customer.address,
        "to_address": other.address,
        "amount": 7,
    }
    value = hidden["raw_data"]["contract"][0]["parameter"]["value"]
    assert value["owner_address"] == crypto.to_hex(customer.address)
    assert value["to_address"] == crypto.to_hex(other.address)
    # A visible transaction as it came (base58 raw_data and raw_data_hex) broadcasts as is.
    accepted = await call(devnet, "/wallet/broadcasttransaction", sign(shown, customer))
    assert accepted == {"result": True, "txid": shown["txID"]}
    again = await call(
        devnet, "/wallet/broadcasttransaction", {**sign(shown, customer), "visible": True}
    )
    assert again["code"] == "DUP_TRANSACTION_ERROR"
    assert again["message"] == "Dup transaction."  # visible: text, not hex
    await devnet.mine()

    found = await call(devnet, "/wallet/gettransactionbyid", {"value": shown["txID"]})
    assert "visible" not in found  # java-tron prints it on created transactions only
    assert found["raw_data"]["contract"][0]["parameter"]["value"] == value


async def test_visible_in_a_get_query_and_addresses_in_either_form(devnet: Devnet) -> None:
    customer = devnet.chain.customers[0].address
    shown = await devnet.control.get(
        "/wallet/getaccount", params={"address": crypto.to_hex(customer), "visible": "true"}
    )
    hidden = await devnet.control.get("/wallet/getaccount", params={"address": customer})

    assert shown.json()["address"] == customer
    assert shown.json()["active_permission"][0]["keys"][0]["address"] == customer
    assert hidden.json()["address"] == crypto.to_hex(customer)
    assert hidden.json()["balance"] == shown.json()["balance"] == 10_000 * SUN


async def test_accounts_that_do_not_exist_and_bad_addresses(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    nobody = new_key().public_key.to_base58check_address()
    for path in ("/wallet/getaccount", "/walletsolidity/getaccount", "/wallet/getaccountnet"):
        assert await call(devnet, path, {"address": nobody, "visible": True}) == {}
        bad = await call(devnet, path, {"address": "T" + "1" * 33})
        assert bad == {"Error": "class java.lang.IllegalArgumentException : Invalid address"}


async def test_solidity_account_lags_until_the_block_solidifies(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    address = new_key().public_key.to_base58check_address()
    await devnet.faucet(address, trx=3 * SUN)
    await devnet.mine()
    body = {"address": address, "visible": True}
    assert (await call(devnet, "/wallet/getaccount", body))["balance"] == 3 * SUN
    assert await call(devnet, "/walletsolidity/getaccount", body) == {}
    await devnet.mine(devnet.chain.solidify_depth)
    assert (await call(devnet, "/walletsolidity/getaccount", body))["balance"] == 3 * SUN


async def test_account_net_after_a_transfer(devnet: Devnet) -> None:
    customer, other = devnet.chain.customers[0], devnet.chain.customers[1]
    body = {"address": customer.address}
    before = await call(devnet, "/wallet/getaccountnet", body)
    assert "freeNetUsed" not in before  # zero: left out
    assert before["freeNetLimit"] == 600
    assert before["TotalNetLimit"] > 0
    tx = await call(
        devnet,
        "/wallet/createtransaction",
        {"owner_address": customer.address, "to_address": other.address, "amount": 1},
    )
    await call(devnet, "/wallet/broadcasttransaction", sign(tx, customer))
    after = await call(devnet, "/wallet/getaccountnet", body)
    assert 200 < after["freeNetUsed"] < 600


async def test_block_lists_and_lookups(devnet: Devnet) -> None:
    await devnet.faucet(devnet.chain.customers[0].address, trx=SUN)
    await devnet.mine(3)
    head = devnet.chain.head

    latest = await call(devnet, "/wallet/getblockbylatestnum", {"num": 2})
    numbers = [b["block_header"]["raw_data"]["number"] for b in latest["block"]]
    assert numbers == [head.number - 1, head.number]
    assert await call(devnet, "/wallet/getblockbylatestnum", {"num": 0}) == {}

    ranged = await call(devnet, "/wallet/getblockbylimitnext", {"startNum": 1, "endNum": 3})
    assert [b["block_header"]["raw_data"]["number"] for b in ranged["block"]] == [1, 2]

    with_txs = await call(devnet, "/wallet/getblock", {"id_or_num": "1", "detail": True})
    header_only = await call(devnet, "/wallet/getblock", {"id_or_num": "1"})
    assert len(with_txs["transactions"]) == 1
    assert "transactions" not in header_only
    assert header_only["blockID"] == with_txs["blockID"]
    by_id = await call(devnet, "/wallet/getblockbyid", {"value": with_txs["blockID"]})
    assert by_id == with_txs
    assert (await call(devnet, "/wallet/getblock", {}))["blockID"] == head.block_id
    genesis = await call(devnet, "/wallet/getblock", {"id_or_num": 0})
    assert genesis["blockID"] == devnet.chain.blocks[0].block_id
    assert await call(devnet, "/wallet/getblockbyid", {"value": "00" * 32}) == {}

    shown = await call(
        devnet, "/wallet/getblock", {"id_or_num": "1", "detail": True, "visible": True}
    )
    assert shown["block_header"]["raw_data"]["witness_address"].startswith("T")
    value = shown["transactions"][0]["raw_data"]["contract"][0]["parameter"]["value"]
    assert value["owner_address"] == devnet.chain.treasury.address


async def test_estimate_energy_and_constant_calls(devnet: Devnet) -> None:
    customer = devnet.chain.customers[0].address
    usdt = devnet.chain.usdt_contract
    newcomer = "00" * 12 + "11" * 20
    body = {
        "owner_address": customer,
        "contract_address": usdt,
        "function_selector": "transfer(address,uint256)",
        "parameter": newcomer + f"{5:064x}",
        "visible": True,
    }
    estimate = await call(devnet, "/wallet/estimateenergy", body)
    assert estimate == {"result": {"result": True}, "energy_required": 130_285}

    too_much = {**body, "parameter": newcomer + f"{10**30:064x}"}
    refused = await call(devnet, "/wallet/estimateenergy", too_much)
    assert refused["result"]["code"] == "CONTRACT_EXE_ERROR"
    assert refused["result"]["message"] == "REVERT opcode executed"

    constant = await call(
        devnet,
        "/wallet/triggerconstantcontract",
        {**body, "function_selector": "symbol()", "parameter": ""},
    )
    assert bytes.fromhex(constant["constant_result"][0])[64:68] == b"USDT"
    tx_value = constant["transaction"]["raw_data"]["contract"][0]["parameter"]["value"]
    assert tx_value["owner_address"] == customer
    assert constant["transaction"]["ret"] == [{}]


async def test_contract_views(devnet: Devnet) -> None:
    usdt = devnet.chain.usdt_contract
    shown = await call(devnet, "/wallet/getcontract", {"value": usdt, "visible": True})
    hidden = await call(devnet, "/wallet/getcontract", {"value": crypto.to_hex(usdt)})
    assert shown["contract_address"] == usdt
    assert hidden["contract_address"] == crypto.to_hex(usdt)
    entries = {e.get("name"): e for e in hidden["abi"]["entrys"]}
    assert entries["balanceOf"]["stateMutability"] == "View"
    assert entries["transfer"]["stateMutability"] == "Nonpayable"
    assert entries["Transfer"]["type"] == "Event"
    info = await call(devnet, "/wallet/getcontractinfo", {"value": usdt})
    assert info["smart_contract"] == hidden
    unknown = devnet.chain.customers[0].address
    assert await call(devnet, "/wallet/getcontract", {"value": unknown}) == {}


async def usdt_from_customer(devnet: Devnet, to: str, amount: int) -> str:
    response = await devnet.control.post("/pay", json={"to": to, "amount": amount})
    assert response.status_code == 200, response.text
    return str(response.json()["tx_hash"])


async def test_trc20_history_pages_and_filters(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    holder = new_key().public_key.to_base58check_address()
    sent = [await usdt_from_customer(devnet, holder, amount) for amount in (1, 2, 3)]
    await devnet.mine()
    await devnet.faucet(holder, trx=10 * SUN)  # not USDT: not in the history
    await devnet.mine()

    path = f"/v1/accounts/{holder}/transactions/trc20"
    first = (await devnet.control.get(path, params={"limit": 2})).json()
    assert first["success"] is True
    assert [item["transaction_id"] for item in first["data"]] == sent[::-1][:2]
    item = first["data"][0]
    assert item["token_info"] == {
        "symbol": "USDT",
        "address": devnet.chain.usdt_contract,
        "decimals": 6,
        "name": "Tether USD",
    }
    assert (item["to"], item["type"], item["value"]) == (holder, "Transfer", "3")
    assert item["from"] == devnet.chain.customers[0].address
    meta = first["meta"]
    assert meta["page_size"] == 2
    following = (await devnet.control.get(meta["links"]["next"])).json()
    assert [i["transaction_id"] for i in following["data"]] == [sent[0]]
    assert "fingerprint" not in following["meta"]

    ascending = await devnet.control.get(path, params={"order_by": "block_timestamp,asc"})
    assert [i["transaction_id"] for i in ascending.json()["data"]] == sent
    only_from = await devnet.control.get(path, params={"only_from": "true"})
    assert only_from.json()["data"] == []
    confirmed = await devnet.control.get(path, params={"only_confirmed": "true"})
    assert confirmed.json()["data"] == []
    other_token = await devnet.control.get(
        path, params={"contract_address": devnet.chain.customers[0].address}
    )
    assert other_token.json()["data"] == []
    bad = await devnet.control.get("/v1/accounts/nobody/transactions/trc20")
    assert bad.status_code == 400
    assert bad.json()["success"] is False


async def test_sign_weight_as_tronpy_reads_it(devnet: Devnet) -> None:
    customer, other = devnet.chain.customers[0], devnet.chain.customers[1]
    tx = await call(
        devnet,
        "/wallet/createtransaction",
        {"owner_address": customer.address, "to_address": other.address, "amount": 1},
    )
    unsigned = {"txID": "", "raw_data": tx["raw_data"], "signature": [], "permission": None}
    weight = await call(devnet, "/wallet/getsignweight", unsigned)
    # raw_data counts, not raw_data_hex (TronWeb's multiSign edits raw_data after building)
    stale = {**tx, "raw_data": {**tx["raw_data"], "expiration": tx["raw_data"]["expiration"] + 1}}
    edited = await call(devnet, "/wallet/getsignweight", stale)
    assert edited["transaction"]["txid"] != tx["txID"]
    assert weight["transaction"]["transaction"]["txID"] == tx["txID"]
    assert weight["result"] == {"code": "NOT_ENOUGH_PERMISSION"}
    assert weight["permission"]["keys"] == [
        {"address": crypto.to_hex(customer.address), "weight": 1}
    ]
    signed = await call(devnet, "/wallet/getsignweight", sign(tx, customer))
    assert signed["result"] == {}  # ENOUGH_PERMISSION, the enum's 0: left out
    assert signed["approved_list"] == [crypto.to_hex(customer.address)]


async def test_event_server_paths_and_prices(devnet: Devnet) -> None:
    txid = await usdt_from_customer(devnet, devnet.chain.customers[1].address, 9)
    await devnet.mine()
    [event] = (await devnet.control.get(f"/v1/transactions/{txid}/events")).json()["data"]
    assert (event["transaction_id"], event["event_name"]) == (txid, "Transfer")
    latest = (await devnet.control.get("/v1/blocks/latest/events")).json()
    assert latest["data"] == [event]
    number = devnet.chain.head.number
    assert (await devnet.control.get(f"/v1/blocks/{number}/events")).json()["data"] == [event]
    assert (await devnet.control.get(f"/v1/transactions/{'ab' * 32}/events")).json()["data"] == []
    assert (await devnet.control.get("/healthcheck")).status_code == 200
    assert await call(devnet, "/wallet/getenergyprices") == {"prices": "0:100"}
    assert await call(devnet, "/walletsolidity/getbandwidthprices") == {"prices": "0:1000"}
