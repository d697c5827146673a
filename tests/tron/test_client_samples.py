"""The gateway's TronGrid client, and the gateway code reading its answers, parse TronGrid's
published sample responses (fixtures/, sources in fixtures/SOURCES.md) served over real HTTP.

Most samples are Nile captures from TRON's documentation and TronGrid's own v1 README; the
`mainnet_*` ones are mainnet answers recorded by others (GetBlock's documentation, other
projects' fixtures and docs). No mainnet block with many transactions and no block's infos with a
failed transaction or another contract's log could be found, so those are not checked (SOURCES.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from paywarden.chain.service import Transfer, base58_address, block_transfers, parse_info
from paywarden.reconcile.service import _usdt as reconcile_usdt
from paywarden.sweeps.tasks import _text, _usdt_balance
from paywarden.tron import crypto, proto
from paywarden.tron.client import TronGridClient, TronGridError
from paywarden.tron.networks import PRESETS
from tests.servers import serve
from tests.tron.samples import sample

NILE_USDT = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"  # 41eca9bc… in the samples
MAINNET_USDT = PRESETS["mainnet"].usdt_contract  # TR7NHq…, a614f8… in the samples
SAMPLE_OWNER = crypto.to_base58(bytes.fromhex("41dd791d6b49e190062d650e6a23c575510d35f2f9"))


class Published:
    """A fake TronGrid answering each path with a recorded sample; `answers` picks which."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {
            "/wallet/getnowblock": "wallet_getnowblock",
            "/wallet/getblockbynum": "wallet_getblockbynum",
            "/wallet/gettransactioninfobyblocknum": "wallet_gettransactioninfobyblocknum",
            "/wallet/gettransactioninfobyid": "wallet_gettransactioninfobyid",
            "/wallet/getaccountresource": "wallet_getaccountresource",
            "/wallet/getchainparameters": "wallet_getchainparameters",
            "/wallet/triggerconstantcontract": "wallet_triggerconstantcontract",
            "/wallet/triggersmartcontract": "wallet_triggersmartcontract",
            "/wallet/createtransaction": "wallet_createtransaction",
            "/wallet/delegateresource": "wallet_delegateresource",
            "/wallet/undelegateresource": "wallet_undelegateresource",
            "/wallet/broadcasttransaction": "wallet_broadcasttransaction",
            "/v1/accounts/{address}": "v1_accounts",
            "/v1/contracts/{contract}/events": "mainnet_v1_contracts_events",
        }
        self.app = FastAPI()
        for path in self.answers:
            self.app.add_api_route(path, self._answer(path), methods=["GET", "POST"])

    def _answer(self, path: str) -> Callable[[], Awaitable[JSONResponse]]:
        async def endpoint() -> JSONResponse:
            return JSONResponse(sample(self.answers[path]))

        return endpoint


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
async def client(published: Published) -> AsyncIterator[TronGridClient]:
    async for url in serve(published.app, lifespan="off"):
        async with TronGridClient(url, max_rounds=1) as trongrid:
            yield trongrid


async def test_blocks(client: TronGridClient) -> None:
    head = await client.now_block()
    assert (head.number, head.timestamp) == (66987627, 1777445307000)
    assert head.block_id == "0000000003fe266bf6b6d392f654dc2e5011601546ed04623d9fcc4e9d439a25"
    assert head.parent_hash.startswith("0000000003fe266a")
    assert head.txids == []  # published without its transactions
    block = await client.block_by_num(66987565)
    assert block is not None
    assert block.number == 66987565
    assert block.block_id.endswith("3a908e0e")


async def test_a_mainnet_block_with_its_transaction(
    client: TronGridClient, published: Published
) -> None:
    published.answers["/wallet/getblockbynum"] = "mainnet_wallet_getblockbynum"
    block = await client.block_by_num(30864544)
    assert block is not None
    assert (block.number, block.timestamp) == (30864544, 1623055923000)
    assert block.parent_hash.endswith("059f29de")
    txid = "979e0823f455f3b67d65b351052f0265233f422792d31d5dbeb7c24737dd5556"
    assert block.txids == [txid]
    # The gateway's protobuf codec reads and writes this mainnet TRX transfer byte for byte.
    (tx,) = block.raw["transactions"]
    assert proto.decode_raw(bytes.fromhex(tx["raw_data_hex"])) == tx["raw_data"]
    assert proto.encode_raw(tx["raw_data"]).hex() == tx["raw_data_hex"]
    assert crypto.sha256(bytes.fromhex(tx["raw_data_hex"])).hex() == txid


async def test_transaction_infos_of_a_block_hold_no_usdt_transfer(
    client: TronGridClient,
) -> None:
    infos = await client.transaction_infos_by_block(66987565)
    assert [i["id"][:8] for i in infos] == ["ff44a282", "04194052"]
    assert {i["receipt"]["net_fee"] for i in infos} == {267000}
    # Two TRX transfers: the scanner finds no USDT Transfer in them.
    assert await block_transfers(client, NILE_USDT, 66987565) == []


async def test_a_contract_call_log_of_another_contract_is_no_transfer(
    client: TronGridClient,
) -> None:
    txid = "01b4cde4197b9d1a1ff09ef5d2b1d939d3ec2401b3f002ebd0802c0f30a6e4ca"
    info = await client.transaction_info(txid, solidified=False)
    assert info is not None
    assert (info["fee"], info["blockNumber"], info["receipt"]["result"]) == (
        5254500,
        66985120,
        "SUCCESS",
    )
    usdt_hex = crypto.to_hex(NILE_USDT)[2:]
    assert parse_info(info, usdt_hex) == []  # the log is 9ff8fc…'s, not USDT's
    caller_hex = info["log"][0]["address"]
    assert parse_info(info, caller_hex) == []  # and its topic is not Transfer's


async def test_the_usdt_transfer_of_a_mainnet_block(
    client: TronGridClient, published: Published
) -> None:
    published.answers["/wallet/gettransactioninfobyblocknum"] = (
        "mainnet_wallet_gettransactioninfobyblocknum"
    )
    # Block 30864600 as GetBlock published it: a TRX transfer (no log) and a USDT transfer.
    assert await block_transfers(client, MAINNET_USDT, 30864600) == [
        Transfer(
            tx_hash="0af79242191c6728b79e858a36a4b5c65e4e52b9fcee4dc5af30eac57b6d0953",
            event_index=0,
            block_number=30864600,
            block_timestamp=1623056091000,
            from_address="TWpZXLfsvVuQuJZLkdWNY7XY2teePqPpz7",
            to_address="TBA6CypYJizwA9XdC7Ubgc5F1bxrQ7SqPt",
            amount=0x1FB6E57F,  # 532.079999 USDT
        )
    ]
    # Another token's scanner sees no transfer in mainnet USDT's log.
    assert await block_transfers(client, NILE_USDT, 30864600) == []
    # Asked for another block, the answer's infos are not taken as that block's.
    assert await block_transfers(client, MAINNET_USDT, 30864601) == []


async def test_a_mainnet_usdt_events_page(client: TronGridClient) -> None:
    page = await client.transfer_events(MAINNET_USDT, only_confirmed=True, limit=2)
    assert (page.fingerprint or "").startswith("7dveEb1DxX4L2Y6q")
    first, second = page.events
    assert first["transaction_id"].startswith("1d8e4173")
    assert (first["block_number"], first["event_index"], first["contract_address"]) == (
        85919983,
        0,
        MAINNET_USDT,
    )
    # The gateway's reading of an event's "0x…" addresses gives the base58 TronGrid's account
    # lookup gave the fixture's author for the same account.
    result = first["result"]
    assert base58_address(result["from"]) == "TA5WVDb8QG5SoPNk1HCnombmkS9nWqH9LR"
    assert base58_address(result["to"]) == "TSHfFTij9Ch7MEcs8c67b9iPTCYmxrwsVV"
    assert int(result["value"]) == 1399000000
    assert (second["event_index"], int(second["result"]["value"])) == (0, 2430000000)


async def test_mainnet_transaction_infos(client: TronGridClient, published: Published) -> None:
    async def info(name: str, txid: str) -> dict:
        published.answers["/wallet/gettransactioninfobyid"] = (
            f"mainnet_wallet_gettransactioninfobyid_{name}"
        )
        got = await client.transaction_info(txid, solidified=False)
        assert got is not None
        assert got["id"] == txid
        return got

    usdt_hex = crypto.to_hex(MAINNET_USDT)[2:]
    paid = await info("usdt", "b69c51db8f9d974e6a38c76852c8ce1adcb682dbacb25ad8ad4f6876121fe9dc")
    assert parse_info(paid, usdt_hex) == [
        Transfer(
            tx_hash=paid["id"],
            event_index=0,
            block_number=66861993,
            block_timestamp=1731235554000,
            from_address="TJoaVSdktrnndU4dmKm33SWMKoXt4LLFbU",
            to_address="TUikLT3nTTjTkXPAuC4xUGj84vfSERCWRn",
            amount=3_500_000,
        )
    ]
    assert "result" not in paid  # success: java-tron leaves the zero enum value out
    # A USDT transfer that ran out of energy: FAILED, no log, the reason as hex text.
    failed = await info(
        "out_of_energy", "e63a324a43aebfe41273db4f7fdfe325b2257b4f5711595a5fc0f8a75cf1b481"
    )
    assert (failed["result"], failed["receipt"]["result"]) == ("FAILED", "OUT_OF_ENERGY")
    assert failed["fee"] == failed["receipt"]["energy_fee"] == 16500120
    assert parse_info(failed, usdt_hex) == []
    assert _text(failed["resMessage"]).startswith("Not enough energy for 'SSTORE' operation")
    # A TRX transfer's info has no receipt result at all, which means success.
    trx = await info("trx", "2389719608ed69f7ec3e72c1abb92acaa43b7175f3062f4ebc6e2e02cc82d0d2")
    assert trx["receipt"] == {"net_usage": 265}
    assert "result" not in trx


async def test_an_account_without_trc20_holds_no_usdt(client: TronGridClient) -> None:
    address = "TLCuBEirVzB6V4menLZKw1jfBTFMZbuKq7"
    account = await client.account(address)
    assert account is not None
    assert account["address"] == "41704833c02883b3261f7baf62f8cb19b4b0c2e64e"
    assert await client.trx_balance(address) == 4196409173
    assert await reconcile_usdt(client, PRESETS["mainnet"].usdt_contract, address) == 0


async def test_resources_and_chain_parameters(client: TronGridClient) -> None:
    resources = await client.account_resource(SAMPLE_OWNER)
    assert (resources["freeNetLimit"], resources["freeNetUsed"]) == (600, 441)
    assert resources["TotalEnergyLimit"] == 180000000000
    assert "EnergyLimit" not in resources  # no staked energy: java-tron leaves the zero out
    params = await client.chain_parameters()
    assert len(params) == 8
    assert params["getTransactionFee"] == 1000
    assert params["getCreateNewAccountFeeInSystemContract"] == 1000000


async def test_balance_of_through_triggerconstantcontract(client: TronGridClient) -> None:
    assert await _usdt_balance(client, NILE_USDT, SAMPLE_OWNER) == 0x40CFCC00


async def test_built_transactions(client: TronGridClient, published: Published) -> None:
    to = crypto.to_base58(bytes.fromhex("4192ad11c1bf16b3b14b0bd6b5c7e2db73a0b5e83a"))
    transfer = await client.trigger_smart_contract(
        SAMPLE_OWNER, NILE_USDT, "transfer(address,uint256)", "00", fee_limit=100_000_000
    )
    assert transfer["txID"].startswith("8c621a0d")
    assert transfer["raw_data"]["fee_limit"] == 100000000
    trx = await client.create_transaction(SAMPLE_OWNER, to, 1_000_000)
    assert trx["txID"].startswith("6303c763")
    delegation = await client.delegate_resource(SAMPLE_OWNER, to, 1_000_000_000)
    assert delegation["raw_data"]["contract"][0]["type"] == "DelegateResourceContract"
    published.answers["/wallet/delegateresource"] = "wallet_delegateresource_error"
    with pytest.raises(TronGridError, match="delegateBalance must be less than"):
        await client.delegate_resource(SAMPLE_OWNER, to, 10**15)
    back = await client.undelegate_resource(SAMPLE_OWNER, to, 1_000_000_000)
    assert back["raw_data"]["contract"][0]["type"] == "UnDelegateResourceContract"
    published.answers["/wallet/undelegateresource"] = "wallet_undelegateresource_error"
    with pytest.raises(TronGridError, match="delegated Resource does not exist"):
        await client.undelegate_resource(SAMPLE_OWNER, to, 1_000_000_000)


async def test_broadcast_accepted(client: TronGridClient) -> None:
    result = await client.broadcast({"txID": "ignored"})
    assert result.txid == "d5ec749ecc2a615399d8a6c864ea4c74ff9f8453eaa44d6b1e2f0b7b3e2f3b6a"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("dup_transaction_error", "DUP_TRANSACTION_ERROR", "Dup transaction."),
        ("sigerror", "SIGERROR", "validateSignature error"),
        ("tapos_error", "TAPOS_ERROR", "Tapos failed"),
    ],
)
async def test_broadcast_refused(
    client: TronGridClient, published: Published, name: str, code: str, message: str
) -> None:
    published.answers["/wallet/broadcasttransaction"] = f"wallet_broadcasttransaction_{name}"
    with pytest.raises(TronGridError) as refused:
        await client.broadcast({"txID": "ab" * 32})
    assert (refused.value.code, refused.value.message) == (code, message)
