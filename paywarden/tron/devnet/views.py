"""The devnet's JSON views: blocks, transaction infos and accounts as java-tron and TronGrid show
them (non-visible form: addresses as "41..." hex, zero values left out where java-tron omits them).
"""

from __future__ import annotations

from typing import Any

from paywarden.tron import crypto
from paywarden.tron.devnet.chain import (
    BLOCK_VERSION,
    TRANSFER_TOPIC,
    Account,
    Block,
    Chain,
    Included,
    recovered,
    transaction_json,
    word,
)


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
        out["transactions"] = [
            {**transaction_json(i.tx), "ret": [{"contractRet": i.effects.result}]}
            for i in block.txs
        ]
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
    if effects.transfer is not None:
        sender, to, value = effects.transfer
        info["log"] = [
            {
                "address": crypto.to_raw(chain.usdt_contract)[1:].hex(),
                "topics": [
                    TRANSFER_TOPIC,
                    "00" * 12 + crypto.to_raw(sender)[1:].hex(),
                    "00" * 12 + crypto.to_raw(to)[1:].hex(),
                ],
                "data": word(value),
            }
        ]
    return info


def account_json(chain: Chain, account: Account) -> dict[str, Any]:
    """/v1/accounts/{address}'s item (TronGrid spells latest_opration_time so)."""
    now = chain.now_ms()
    window = chain.params.window_ms
    out: dict[str, Any] = {
        "address": crypto.to_hex(account.address),
        "create_time": account.create_time,
        "latest_opration_time": account.latest_operation_time,
        "free_net_usage": recovered(account.free_net_used, account.free_net_time, now, window),
        "latest_consume_free_time": account.free_net_time,
        "net_window_size": window // 3000,
        "account_resource": {
            "energy_usage": recovered(account.energy_used, account.energy_time, now, window),
            "latest_consume_time_for_energy": account.energy_time,
            "energy_window_size": window // 3000,
            "delegated_frozenV2_balance_for_energy": sum(account.energy_delegated_out.values()),
            "acquired_delegated_frozenV2_balance_for_energy": sum(
                account.energy_delegated_in.values()
            ),
        },
        "frozenV2": [{}, {"type": "ENERGY"}, {"type": "TRON_POWER"}],
        "trc20": [],
    }
    if account.balance:
        out["balance"] = account.balance
    usdt = chain.state.usdt.get(account.address, 0)
    if usdt:
        out["trc20"] = [{chain.usdt_contract: str(usdt)}]
    if account.is_contract:
        out["type"] = "Contract"
    return out


TOTAL_ENERGY_LIMIT = 180_000_000_000  # mainnet's TotalEnergyLimit


def account_resource_json(chain: Chain, account: Account) -> dict[str, Any]:
    """/wallet/getaccountresource's shape (zero values left out, as java-tron does)."""
    now = chain.now_ms()
    window = chain.params.window_ms
    values = {
        "freeNetUsed": recovered(account.free_net_used, account.free_net_time, now, window),
        "freeNetLimit": chain.params.free_net_limit,
        "EnergyUsed": recovered(account.energy_used, account.energy_time, now, window),
        "EnergyLimit": chain.energy_limit(account),
        # The network's energy per staked TRX is TotalEnergyLimit / TotalEnergyWeight (TRX):
        # mainnet's daily limit, and a weight that gives the devnet's energy_per_trx.
        "TotalEnergyLimit": TOTAL_ENERGY_LIMIT,
        "TotalEnergyWeight": TOTAL_ENERGY_LIMIT // chain.params.energy_per_trx,
    }
    return {k: v for k, v in values.items() if v}


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
