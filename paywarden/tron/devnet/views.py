"""The devnet's JSON views: blocks, transaction infos and accounts as java-tron and TronGrid show
them (non-visible form: addresses as "41..." hex, zero values left out where java-tron omits them).
`visible` turns any of them into java-tron's visible=true form (base58 addresses).
"""

from __future__ import annotations

import os
import platform
import threading
from typing import Any

from paywarden.tron import crypto
from paywarden.tron.devnet.chain import (
    APPROVAL_TOPIC,
    BLOCK_VERSION,
    TRANSFER_TOPIC,
    Account,
    Block,
    Chain,
    Included,
    owner_permission,
    recovered,
    transaction_json,
    word,
)

# Fields that hold addresses in java-tron's JSON (its HttpSelfFormatFieldName list, in short):
# visible=true prints them base58, whether a single value or a list of them.
ADDRESS_FIELDS = frozenset(
    {
        "address",
        "owner_address",
        "to_address",
        "contract_address",
        "receiver_address",
        "witness_address",
        "origin_address",
        "from",
        "to",
        "account",
        "fromAccounts",
        "toAccounts",
        "approved_list",
    }
)
# Bytes fields java-tron prints as text, not hex, when visible (Return.message and the like).
TEXT_FIELDS = frozenset({"message", "resMessage"})
# The operations java-tron's default active permission allows (mainnet's getActiveDefaultOperations)
ACTIVE_DEFAULT_OPERATIONS = "7fff1fc0033e0300000000000000000000000000000000000000000000000000"
CODE_VERSION = "4.8.0"  # the java-tron release getnodeinfo reports
TOTAL_NET_LIMIT = 43_200_000_000  # mainnet's TotalNetLimit


def visible(value: Any) -> Any:
    """java-tron's visible=true form of a JSON answer: "41..." addresses as base58, and the
    transactions' "visible" flag set."""
    if isinstance(value, list):
        return [visible(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ADDRESS_FIELDS:
            item = [_base58(i) for i in item] if isinstance(item, list) else _base58(item)
        elif key in TEXT_FIELDS and isinstance(item, str):
            item = _text(item)
        elif key == "visible":
            item = True
        elif key == "log" and isinstance(item, list):
            item = [_log_address(log) for log in item]
        out[key] = visible(item)
    return out


def _base58(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 42 and value.startswith("41"):
        try:
            return crypto.to_base58(bytes.fromhex(value))
        except ValueError:
            return value
    return value


def _log_address(log: Any) -> Any:
    """java-tron gives a log's 20-byte address the 0x41 prefix when visible (its servlets'
    convertLogAddressToTronAddress), so that it prints as a base58 address."""
    if isinstance(log, dict) and len(log.get("address") or "") == 40:
        return {**log, "address": "41" + log["address"]}
    return log


def _text(value: str) -> str:
    try:
        return bytes.fromhex(value).decode()
    except ValueError:  # not hex, or not UTF-8: leave it as it is
        return value


def _nonzero(values: dict[str, Any]) -> dict[str, Any]:
    """Protobuf-JSON's omission of default values: 0, false and empty text go."""
    return {k: v for k, v in values.items() if v not in (0, False, "", None)}


def block_json(chain: Chain, block: Block) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "number": block.number,
        "txTrieRoot": crypto.sha256(b"".join(bytes.fromhex(i.tx.txid) for i in block.txs)).hex(),
        "witness_address": crypto.to_hex(block.witness),
        "parentHash": block.parent_hash,
        "version": BLOCK_VERSION,
        "timestamp": block.timestamp,
    }
    if not block.number:
        del raw["number"]  # java-tron leaves out zero values, the genesis number among them
    out: dict[str, Any] = {
        "blockID": block.block_id,
        "block_header": {
            "raw_data": raw,
            "witness_signature": chain.witness.sign(bytes.fromhex(block.block_id)).hex(),
        },
    }
    if block.txs:
        out["transactions"] = [stored_transaction(i) for i in block.txs]
    return out


def stored_transaction(included: Included) -> dict[str, Any]:
    """A transaction as blocks and gettransactionbyid show it: with its result, and without the
    "visible" flag (java-tron prints that only on transactions it has just created)."""
    out = {"ret": [{"contractRet": included.effects.result}], **transaction_json(included.tx)}
    del out["visible"]
    return out


def transaction_info(chain: Chain, block: Block, included: Included) -> dict[str, Any]:
    """/wallet/gettransactioninfobyid's shape."""
    effects = included.effects
    info: dict[str, Any] = {
        "id": included.tx.txid,
        "blockNumber": block.number,
        "blockTimeStamp": block.timestamp,
        "contractResult": [effects.contract_result],
        "receipt": dict(effects.receipt),
    }
    if effects.fee:
        info["fee"] = effects.fee
    if included.tx.contract_type == "TriggerSmartContract":
        info["contract_address"] = crypto.to_hex(chain.usdt_contract)
    if effects.result != "SUCCESS":
        info["result"] = "FAILED"
        message = "REVERT opcode executed" if effects.result == "REVERT" else "Not enough energy"
        info["resMessage"] = message.encode().hex()
    logs = [
        _log(chain, topic, event)
        for topic, event in ((TRANSFER_TOPIC, effects.transfer), (APPROVAL_TOPIC, effects.approval))
        if event is not None
    ]
    if logs:
        info["log"] = logs
    return info


def _log(chain: Chain, topic: str, event: tuple[str, str, int]) -> dict[str, Any]:
    """A USDT event log: two indexed addresses and a value, as TransactionInfo.Log shows it."""
    first, second, value = event
    return {
        "address": crypto.to_raw(chain.usdt_contract)[1:].hex(),
        "topics": [
            topic,
            "00" * 12 + crypto.to_raw(first)[1:].hex(),
            "00" * 12 + crypto.to_raw(second)[1:].hex(),
        ],
        "data": word(value),
    }


def account_json(chain: Chain, account: Account, *, trc20: bool = True) -> dict[str, Any]:
    """/wallet/getaccount's Account; with `trc20`, TronGrid's /v1/accounts/{address} item (which
    adds the TRC-20 balances; TronGrid spells latest_opration_time so, as java-tron does)."""
    now = chain.now_ms()
    window = chain.params.window_ms
    slots = window // 3000 * 1000  # java-tron's "optimized" window size: slots x 1000

    def used(amount: int, since: int) -> int:
        return recovered(amount, since, now, window)

    out = _nonzero(
        {
            "address": crypto.to_hex(account.address),
            "balance": account.balance,
            "create_time": account.create_time,
            "latest_opration_time": account.latest_operation_time,
            "free_net_usage": used(account.free_net_used, account.free_net_time),
            "latest_consume_free_time": account.free_net_time,
            "net_usage": used(account.net_used, account.net_time),
            "latest_consume_time": account.net_time,
            "net_window_size": slots,
            "net_window_optimized": True,
            "type": "Contract" if account.is_contract else "",
        }
    )
    out["account_resource"] = _nonzero(
        {
            "energy_usage": used(account.energy_used, account.energy_time),
            "latest_consume_time_for_energy": account.energy_time,
            "energy_window_size": slots,
            "energy_window_optimized": True,
            "delegated_frozenV2_balance_for_energy": sum(account.energy_delegated_out.values()),
            "acquired_delegated_frozenV2_balance_for_energy": sum(
                account.energy_delegated_in.values()
            ),
        }
    )
    if not account.is_contract:
        hex_address = crypto.to_hex(account.address)
        out["owner_permission"] = owner_permission(account.address)
        out["active_permission"] = [
            {
                "type": "Active",
                "id": 2,
                "permission_name": "active",
                "threshold": 1,
                "operations": ACTIVE_DEFAULT_OPERATIONS,
                "keys": [{"address": hex_address, "weight": 1}],
            }
        ]
    out["frozenV2"] = [
        _nonzero({"amount": account.frozen_bandwidth}),
        _nonzero({"type": "ENERGY", "amount": account.frozen_energy}),
        {"type": "TRON_POWER"},
    ]
    if trc20:
        usdt = chain.state.usdt.get(account.address, 0)
        out["trc20"] = [{chain.usdt_contract: str(usdt)}] if usdt else []
    return out


TOTAL_ENERGY_LIMIT = 180_000_000_000  # mainnet's TotalEnergyLimit


def _net(chain: Chain, account: Account) -> dict[str, int]:
    now = chain.now_ms()
    window = chain.params.window_ms
    return {
        "freeNetUsed": recovered(account.free_net_used, account.free_net_time, now, window),
        "freeNetLimit": chain.params.free_net_limit,
        "NetUsed": recovered(account.net_used, account.net_time, now, window),
        "NetLimit": chain.net_limit(account),
        "TotalNetLimit": TOTAL_NET_LIMIT,
        "TotalNetWeight": TOTAL_NET_LIMIT // chain.params.bandwidth_per_trx,
    }


def account_net_json(chain: Chain, account: Account) -> dict[str, Any]:
    """/wallet/getaccountnet's shape (zero values left out)."""
    return _nonzero(dict(_net(chain, account)))


def account_resource_json(chain: Chain, account: Account) -> dict[str, Any]:
    """/wallet/getaccountresource's shape (zero values left out, as java-tron does)."""
    now = chain.now_ms()
    window = chain.params.window_ms
    values = {
        **_net(chain, account),
        "tronPowerLimit": (account.frozen_energy + account.frozen_bandwidth) // 1_000_000,
        "EnergyUsed": recovered(account.energy_used, account.energy_time, now, window),
        "EnergyLimit": chain.energy_limit(account),
        # The network's energy per staked TRX is TotalEnergyLimit / TotalEnergyWeight (TRX):
        # mainnet's daily limit, and a weight that gives the devnet's energy_per_trx.
        "TotalEnergyLimit": TOTAL_ENERGY_LIMIT,
        "TotalEnergyWeight": TOTAL_ENERGY_LIMIT // chain.params.energy_per_trx,
    }
    return _nonzero(values)


def delegated_resources(chain: Chain, sender: Account, receiver: str) -> dict[str, Any]:
    """/wallet/getdelegatedresourcev2: what `sender` delegates to `receiver` ({} if nothing)."""
    amount = sender.energy_delegated_out.get(receiver, 0)
    if not amount:
        return {}
    item = {
        "from": crypto.to_hex(sender.address),
        "to": crypto.to_hex(receiver),
        "frozen_balance_for_energy": amount,
    }
    return {"delegatedResource": [item]}


def delegation_index(account: Account) -> dict[str, Any]:
    """/wallet/getdelegatedresourceaccountindexv2: whom an account delegates to and from."""
    out: dict[str, Any] = {"account": crypto.to_hex(account.address)}
    if account.energy_delegated_in:
        out["fromAccounts"] = [crypto.to_hex(a) for a in sorted(account.energy_delegated_in)]
    if account.energy_delegated_out:
        out["toAccounts"] = [crypto.to_hex(a) for a in sorted(account.energy_delegated_out)]
    return out


def node_info(chain: Chain) -> dict[str, Any]:
    """/wallet/getnodeinfo (java-tron's NodeInfo bean, printed by fastjson: zeros included). The
    devnet is one node with no peers; machineInfo describes the machine it runs on."""
    head, solid = chain.head, chain.solidified
    return {
        "activeConnectCount": 0,
        "beginSyncNum": head.number,
        "block": f"Num:{head.number},ID:{head.block_id}",
        "solidityBlock": f"Num:{solid.number},ID:{solid.block_id}",
        "currentConnectCount": 0,
        "passiveConnectCount": 0,
        "totalFlow": 0,
        "configNodeInfo": {
            "codeVersion": CODE_VERSION,
            "versionNum": "1",
            "p2pVersion": "0",  # the devnet joins no network
            "listenPort": 0,
            "discoverEnable": False,
            "maxConnectCount": 0,
            "supportConstant": True,
            "dbVersion": 2,
        },
        "machineInfo": {
            "cpuCount": os.cpu_count() or 1,
            "cpuRate": 0.0,
            "totalMemory": 0,
            "freeMemory": 0,
            "jvmTotalMemory": 0,
            "jvmFreeMemory": 0,
            "javaVersion": f"none (Python {platform.python_version()})",
            "osName": f"{platform.system()} {platform.release()}",
            "threadCount": threading.active_count(),
            "deadLockThreadCount": 0,
        },
    }


def summary(chain: Chain) -> dict[str, Any]:
    """GET /devnet/state: the chain's position and the built-in accounts."""

    def holder(key: crypto.KeyPair) -> dict[str, Any]:
        account = chain.state.accounts.get(key.address)
        return {
            "address": key.address,
            "trx_sun": account.balance if account else 0,
            "usdt": chain.state.usdt.get(key.address, 0),
        }

    return {
        "head": {"number": chain.head.number, "block_id": chain.head.block_id},
        "solidified": {"number": chain.solidified.number, "block_id": chain.solidified.block_id},
        "solidify_depth": chain.solidify_depth,
        "pending_transactions": len(chain.pending),
        "usdt_contract": chain.usdt_contract,
        "treasury": holder(chain.treasury),
        "customers": [holder(c) for c in chain.customers],
        "accounts": len(chain.state.accounts),
        "chain_parameters": {p["key"]: p.get("value", 0) for p in chain.params.chain_parameters()},
    }
