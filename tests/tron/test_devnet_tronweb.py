"""Stock TronWeb (npm, unmodified) against the devnet over real HTTP, as a JavaScript developer
scripts it: balances, a TRX transfer, an activation, TRC-20 through `contract().at()`, Stake 2.0.

Node runs `tests/tron/tronweb/flows.mjs` (one flow a run) while this event loop serves the devnet
and mines a block every 0.3 s; each answer is then checked against the chain itself. Skipped
only when Node is absent; a missing `node_modules` is installed here with `npm ci` (as
`make tronweb` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from tronpy.keys import PrivateKey

from paywarden.tron import crypto
from tests.tron.conftest import SUN, Devnet
from tests.tron.tronweb_install import NO_NODE, TRONWEB_DIR, install_tronweb

FLOWS = TRONWEB_DIR / "flows.mjs"
BLOCK_SECONDS = 0.3  # TronWeb waits for blocks: a short timer keeps each flow near a second
SOLIDIFY_DEPTH = 1
FLOW_TIMEOUT = 60
LOG_LINES = 40  # TronWeb's last HTTP exchanges shown when a flow fails

TRC20_FUNCTIONS = {
    "name",
    "symbol",
    "decimals",
    "totalSupply",
    "balanceOf",
    "transfer",
    "transferFrom",
    "approve",
    "allowance",
}

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None,
        reason=NO_NODE,
    ),
    pytest.mark.usefixtures("tronweb_installed"),
]


@pytest.fixture(scope="session")
def tronweb_installed() -> None:
    install_tronweb()


@pytest.fixture
def solidify_depth() -> int:
    return SOLIDIFY_DEPTH  # trx.getBalance reads the solidity node: keep it close to the head


@pytest.fixture(autouse=True)
async def block_timer(devnet: Devnet) -> AsyncIterator[None]:
    """A block every BLOCK_SECONDS while TronWeb runs (conftest's devnet mines only on demand,
    and TronWeb waits for blocks as it would on TRON)."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(BLOCK_SECONDS)
            await devnet.mine()

    task = asyncio.create_task(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def tronweb(devnet: Devnet, key: PrivateKey, flow: str, *args: object) -> dict[str, Any]:
    """Run one flow of flows.mjs signed by `key`; its JSON result, or a failure that shows
    TronWeb's error and the HTTP exchanges that led to it."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(FLOWS),
        devnet.url,
        key.hex(),
        flow,
        *map(str, args),
        cwd=TRONWEB_DIR,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(FLOW_TIMEOUT):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
    log = "\n".join(line[:600] for line in err.decode().splitlines()[-LOG_LINES:])
    try:
        result = json.loads(out)
    except ValueError:
        pytest.fail(f"TronWeb {flow}: no JSON on stdout ({out[:500]!r})\n{log}")
    if not result.get("ok"):
        pytest.fail(f"TronWeb {flow} failed: {result.get('error')}\n--- HTTP (last) ---\n{log}")
    return result


async def funded(devnet: Devnet, key: PrivateKey, trx: int, usdt: int = 0) -> str:
    """Fund `key`'s address from the faucet and wait until that is solidified."""
    address = key.public_key.to_base58check_address()
    await devnet.faucet(address, trx=trx, **({"usdt": usdt} if usdt else {}))
    await devnet.mine(SOLIDIFY_DEPTH + 1)
    return address


def trx_of(devnet: Devnet, address: str) -> int:
    account = devnet.chain.account(address)
    return account.balance if account else 0


def frozen_v2(account: dict[str, Any]) -> dict[str, int]:
    """getaccount's frozenV2 list by resource (protobuf JSON omits BANDWIDTH and zero amounts)."""
    return {f.get("type", "BANDWIDTH"): f.get("amount", 0) for f in account.get("frozenV2", [])}


def assert_in_block(devnet: Devnet, found: dict[str, Any]) -> None:
    """The transaction info TronWeb waited for is the chain's: same id, same block."""
    txid, info = found["txid"], found["info"]
    block, _ = devnet.chain.find(txid) or pytest.fail(f"{txid} is not on the chain")
    assert info["id"] == txid
    assert info["blockNumber"] == block.number
    assert info["blockTimeStamp"] == block.timestamp


async def test_balance_and_account(devnet: Devnet, new_key: Callable[[], PrivateKey]) -> None:
    key = new_key()
    address = await funded(devnet, key, 123_456_789)

    seen = await tronweb(devnet, key, "balance", address)

    assert seen["balance"] == seen["unconfirmed_balance"] == 123_456_789
    assert seen["account"]["address"] == crypto.to_hex(address)
    assert seen["unconfirmed_account"]["balance"] == trx_of(devnet, address)
    assert seen["bandwidth"] == devnet.chain.params.free_net_limit  # nothing used yet


async def test_send_trx(devnet: Devnet, new_key: Callable[[], PrivateKey]) -> None:
    key = new_key()
    sender = await funded(devnet, key, 50 * SUN)
    recipient = devnet.chain.customers[1].address
    recipient_before = trx_of(devnet, recipient)

    sent = await tronweb(devnet, key, "send_trx", recipient, 7_654_321)

    assert sent["broadcast"]["result"] is True
    assert sent["broadcast"]["txid"] == sent["txid"]
    assert_in_block(devnet, sent)
    assert sent["found"]["txID"] == sent["txid"]
    assert sent["found"]["ret"][0]["contractRet"] == "SUCCESS"
    # Paid with the sender's free bandwidth: no fee (protobuf JSON leaves a zero fee out).
    assert sent["info"]["receipt"]["net_usage"] > 0
    assert "fee" not in sent["info"]
    assert trx_of(devnet, recipient) == recipient_before + 7_654_321
    assert trx_of(devnet, sender) == 50 * SUN - 7_654_321


async def test_first_trx_activates_an_account(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    key = new_key()
    sender = await funded(devnet, key, 50 * SUN)
    params = devnet.chain.params

    sent = await tronweb(devnet, key, "activate", 2 * SUN)

    assert sent["account_before"] == {}
    assert sent["account_after"]["balance"] == 2 * SUN
    assert sent["account_after"]["address"] == crypto.to_hex(sent["address"])
    assert_in_block(devnet, sent)
    fee = params.create_new_account_fee_in_system_contract + params.create_account_fee
    assert sent["info"]["fee"] == fee
    assert trx_of(devnet, sent["address"]) == 2 * SUN
    assert trx_of(devnet, sender) == 50 * SUN - 2 * SUN - fee


async def test_trc20_contract_at_balance_of_and_transfer(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    key = new_key()
    sender = await funded(devnet, key, 100 * SUN, usdt=25_000_000)
    recipient = devnet.chain.customers[2].address
    recipient_usdt = devnet.chain.usdt_balance(recipient)

    seen = await tronweb(devnet, key, "trc20", devnet.chain.usdt_contract, recipient, 4_250_000)

    assert (seen["name"], seen["symbol"], seen["decimals"]) == ("Tether USD", "USDT", 6)
    assert set(seen["abi"]) >= TRC20_FUNCTIONS
    assert seen["before"] == {"owner": "25000000", "to": str(recipient_usdt)}
    assert seen["after"] == {"owner": "20750000", "to": str(recipient_usdt + 4_250_000)}
    assert_in_block(devnet, seen)
    assert seen["info"]["receipt"]["result"] == "SUCCESS"
    assert devnet.chain.usdt_balance(sender) == 20_750_000
    assert devnet.chain.usdt_balance(recipient) == recipient_usdt + 4_250_000
    assert trx_of(devnet, sender) == 100 * SUN - seen["info"]["fee"]


async def test_trc20_contract_info_and_energy_estimates(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    key = new_key()
    await funded(devnet, key, 100 * SUN, usdt=25_000_000)
    usdt = devnet.chain.usdt_contract
    holder = devnet.chain.customers[2].address  # already holds USDT: no new storage slot

    seen = await tronweb(devnet, key, "trc20_reads", usdt, holder, 1_000_000)

    contract = seen["contract_info"]["smart_contract"]
    assert contract["contract_address"] == crypto.to_hex(usdt)
    assert {e.get("name") for e in contract["abi"]["entrys"]} >= TRC20_FUNCTIONS
    energy = devnet.chain.params.usdt_transfer_energy
    assert seen["estimate"]["result"]["result"] is True
    assert seen["estimate"]["energy_required"] == energy
    assert seen["constant_energy_used"] == energy


async def test_node_blocks_and_contract_events(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    holder = devnet.chain.customers[1].address
    [txid] = await devnet.faucet(holder, usdt=1_234_567)
    await devnet.mine(3)  # the timer may have sealed it already: blocks after it either way
    chain = devnet.chain
    block, _ = chain.find(txid) or pytest.fail(f"{txid} is not on the chain")

    seen = await tronweb(devnet, new_key(), "chain", block.number, chain.usdt_contract, txid)

    assert re.fullmatch(r"\d+\.\d+\.\d+", seen["node_version"])  # from getnodeinfo
    assert block.number < seen["solid"] <= seen["head"]  # mined 3 deep, solidified 1 deep
    assert seen["block_id"] == seen["by_hash"] == block.block_id
    assert seen["range"] == [chain.blocks[block.number + i].block_id for i in range(3)]
    assert seen["transactions"] == [txid]
    parameters = {p["key"]: p.get("value", 0) for p in seen["chain_parameters"]}
    assert parameters["getEnergyFee"] == chain.params.energy_fee
    assert parameters["getTransactionFee"] == chain.params.transaction_fee
    [event] = seen["transfer_events"]
    assert (event["event_name"], event["block_number"]) == ("Transfer", block.number)
    assert event["result"]["value"] == "1234567"
    assert seen["tx_events"] == [event]
    # "<since ms>:<sun>,..." histories; the last entry is the price now.
    assert seen["energy_prices"].rsplit(":", 1)[1] == str(chain.params.energy_fee)
    assert seen["bandwidth_prices"].rsplit(":", 1)[1] == str(chain.params.transaction_fee)


async def test_freeze_delegate_and_undelegate_energy(
    devnet: Devnet, new_key: Callable[[], PrivateKey]
) -> None:
    key = new_key()
    owner = await funded(devnet, key, 100 * SUN)
    receiver = devnet.chain.customers[0].address

    seen = await tronweb(devnet, key, "resources", receiver, 20 * SUN, 8 * SUN)

    steps = ("freeze", "delegate", "undelegate")
    for step in steps:
        assert_in_block(devnet, seen[step])
    # java-tron's Account: frozenV2 per resource; what is delegated leaves the owner's frozenV2
    # for account_resource.delegated_frozenV2_balance_for_energy, and comes back on undelegate.
    after_freeze, after_delegate = seen["account_after_freeze"], seen["account_after_delegate"]
    assert frozen_v2(after_freeze)["ENERGY"] == 20 * SUN
    assert frozen_v2(after_delegate)["ENERGY"] == 12 * SUN
    assert after_delegate["account_resource"]["delegated_frozenV2_balance_for_energy"] == 8 * SUN
    after_undelegate = seen["account_after_undelegate"]
    assert frozen_v2(after_undelegate)["ENERGY"] == 20 * SUN
    resource = after_undelegate.get("account_resource", {})
    assert "delegated_frozenV2_balance_for_energy" not in resource  # zero: omitted
    assert seen["receiver_resources"]["EnergyLimit"] == 8 * devnet.chain.params.energy_per_trx
    fees = sum(seen[step]["info"].get("fee", 0) for step in steps)
    assert trx_of(devnet, owner) == 100 * SUN - 20 * SUN - fees
    assert after_undelegate["balance"] == trx_of(devnet, owner)
