"""The devnet's java-tron HTTP API (`/wallet/...` and `/walletsolidity/...`): one handler per
path, each taking the chain and the request's parameters and returning java-tron's JSON in its
non-visible form ("41..." hex addresses); the HTTP layer turns that into the visible form when
the request says `visible`. A handler runs under the devnet's lock and never awaits.

Refusals answer as java-tron does: `{"Error": ...}` (JavaError) for a request it cannot read or a
contract that fails its checks when building, `{"code", "message"}` (message hex) for a refused
broadcast, `{"result": {"code", "message"}}` for a refused contract call, and `{}` for what does
not exist (an account, a transaction, a block).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paywarden.tron import crypto
from paywarden.tron.devnet import usdt, views
from paywarden.tron.devnet.chain import Account, Block, Chain, Rejected, transaction_json
from paywarden.tron.devnet.params import ILLEGAL_ARGUMENT, JavaError, address, call_data, integer

Handler = Callable[[Chain, dict[str, Any]], Any]

MAX_BLOCKS = 100  # java-tron's limit on getblockbylatestnum and getblockbylimitnext
VALIDATE_EXCEPTION = "org.tron.core.exception.ContractValidateException"
CONTRACT_VALIDATE_PREFIX = "Contract validate error : "
REVERTED = {"code": "CONTRACT_EXE_ERROR", "message": b"REVERT opcode executed".hex()}


def _validate_error(exc: Rejected) -> JavaError:
    return JavaError(VALIDATE_EXCEPTION, exc.message)


def _refused(exc: Rejected) -> dict[str, Any]:
    """A refused contract call, as triggersmartcontract and friends answer it."""
    return {"result": {"code": exc.code, "message": exc.message.encode().hex()}}


# --- blocks ---------------------------------------------------------------------------------------


def _top(chain: Chain, solid: bool) -> Block:
    """The newest block a node answers from: the head, or the solidified block for
    /walletsolidity/ (java-tron's solidity node knows nothing newer)."""
    return chain.solidified if solid else chain.head


def _block_or_empty(chain: Chain, block: Block | None, solid: bool = False) -> dict[str, Any]:
    if block is None or block.number > _top(chain, solid).number:
        return {}
    return views.block_json(chain, block)


def now_block(solid: bool) -> Handler:
    def handler(chain: Chain, _: dict[str, Any]) -> Any:
        return views.block_json(chain, _top(chain, solid))

    return handler


def block_by_num(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        return _block_or_empty(chain, chain.block(integer(values, "num")), solid)

    return handler


def _block_by_id(chain: Chain, block_id: str) -> Block | None:
    """The block whose id is `block_id` (its first 8 bytes are the number)."""
    try:
        block = chain.block(int(block_id[:16], 16)) if len(block_id) == 64 else None
    except ValueError:  # not hex
        return None
    return block if block is not None and block.block_id == block_id.lower() else None


def block_by_id(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        return _block_or_empty(chain, _block_by_id(chain, str(values.get("value", ""))), solid)

    return handler


def get_block(solid: bool) -> Handler:
    """/wallet/getblock: id_or_num (a number or a block id; the newest if absent), and `detail`
    (false: the header only)."""

    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        given = values.get("id_or_num")
        wanted = "" if given is None else str(given).strip()
        if not wanted:
            block: Block | None = _top(chain, solid)
        elif wanted.isdigit():
            block = chain.block(int(wanted))
        elif len(wanted) == 64:
            block = _block_by_id(chain, wanted)
        else:
            raise JavaError(ILLEGAL_ARGUMENT, f"id_or_num is neither a number nor an id: {wanted}")
        out = _block_or_empty(chain, block, solid)
        detail = values.get("detail")
        if not (detail is True or str(detail).lower() == "true"):
            out.pop("transactions", None)
        return out

    return handler


def _blocks(chain: Chain, start: int, end: int) -> dict[str, Any]:
    """{"block": [...]} for blocks start..end-1 that exist ({} when none does)."""
    found = [views.block_json(chain, b) for n in range(start, end) if (b := chain.block(n))]
    return {"block": found} if found else {}


def blocks_by_latest_num(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        count = integer(values, "num")
        if not 0 < count <= MAX_BLOCKS:
            return {}
        top = _top(chain, solid).number
        return _blocks(chain, max(0, top - count + 1), top + 1)

    return handler


def blocks_by_limit_next(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        start, end = integer(values, "startNum"), integer(values, "endNum")
        if not 0 <= start < end or end - start > MAX_BLOCKS:
            return {}
        return _blocks(chain, start, min(end, _top(chain, solid).number + 1))

    return handler


def node_info(chain: Chain, _: dict[str, Any]) -> Any:
    return views.node_info(chain)


def list_witnesses(chain: Chain, _: dict[str, Any]) -> Any:
    """The devnet's one witness, which produces every block."""
    witness = {
        "address": crypto.to_hex(chain.witness.address),
        "url": "https://paywarden.invalid/devnet",
        "totalProduced": chain.head.number,
        "latestBlockNum": chain.head.number,
        "isJobs": True,
    }
    return {"witnesses": [{k: v for k, v in witness.items() if v}]}


def list_nodes(_chain: Chain, _: dict[str, Any]) -> Any:
    return {}  # no peers: java-tron leaves the empty list out


def energy_prices(chain: Chain, _: dict[str, Any]) -> Any:
    """The energy price's history, "<since ms>:<sun>,...": the devnet's has one entry."""
    return {"prices": f"0:{chain.params.energy_fee}"}


def bandwidth_prices(chain: Chain, _: dict[str, Any]) -> Any:
    return {"prices": f"0:{chain.params.transaction_fee}"}


def chain_parameters(chain: Chain, _: dict[str, Any]) -> Any:
    return {"chainParameter": chain.params.chain_parameters()}


# --- transactions ---------------------------------------------------------------------------------


def tx_info(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        found = chain.find(str(values.get("value", "")), solidified=solid)
        return views.transaction_info(chain, *found) if found else {}

    return handler


def tx_infos_by_block(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        block = chain.block(integer(values, "num"))
        if block is None or (solid and block.number > chain.solidified.number):
            return []
        return [views.transaction_info(chain, block, i) for i in block.txs]

    return handler


def tx_by_id(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        found = chain.find(str(values.get("value", "")), solidified=solid)
        return views.stored_transaction(found[1]) if found else {}

    return handler


def broadcast(chain: Chain, values: dict[str, Any]) -> Any:
    try:
        txid = chain.broadcast(values)
    except Rejected as exc:
        message = exc.message
        if exc.code == "CONTRACT_VALIDATE_ERROR":
            message = CONTRACT_VALIDATE_PREFIX + message  # java-tron's broadcast says so
        return {
            "code": exc.code,
            "txid": str(values.get("txID", "")),
            "message": message.encode().hex(),
        }
    return {"result": True, "txid": txid}


def sign_weight(chain: Chain, values: dict[str, Any]) -> Any:
    try:
        return chain.sign_weight(values)
    except Rejected as exc:
        raise JavaError(ILLEGAL_ARGUMENT, exc.message) from exc


def _build(chain: Chain, contract_type: str, value: dict[str, Any]) -> dict[str, Any]:
    try:
        return chain.build(contract_type, value)
    except Rejected as exc:
        raise _validate_error(exc) from exc


def create_transaction(chain: Chain, values: dict[str, Any]) -> Any:
    value = {
        "owner_address": crypto.to_hex(address(values, "owner_address")),
        "to_address": crypto.to_hex(address(values, "to_address")),
        "amount": integer(values, "amount"),
    }
    return _build(chain, "TransferContract", value)


def _resource(values: dict[str, Any], name: str = "resource") -> str:
    resource = str(values.get(name) or "BANDWIDTH")
    if resource not in ("BANDWIDTH", "ENERGY", "TRON_POWER"):
        raise JavaError(ILLEGAL_ARGUMENT, f"Can not find enum value: {resource}")
    return resource


def staking(contract_type: str, amount_field: str) -> Handler:
    """freezebalancev2 (frozen_balance) and unfreezebalancev2 (unfreeze_balance)."""

    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        value = {
            "owner_address": crypto.to_hex(address(values, "owner_address")),
            amount_field: integer(values, amount_field),
            "resource": _resource(values),
        }
        return _build(chain, contract_type, value)

    return handler


def delegation(contract_type: str) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        value: dict[str, Any] = {
            "owner_address": crypto.to_hex(address(values, "owner_address")),
            "receiver_address": crypto.to_hex(address(values, "receiver_address")),
            "balance": integer(values, "balance"),
            "resource": _resource(values),
        }
        if contract_type == "DelegateResourceContract" and values.get("lock"):
            value["lock"] = True
            if values.get("lock_period"):
                value["lock_period"] = integer(values, "lock_period")
        return _build(chain, contract_type, value)

    return handler


# --- contracts ------------------------------------------------------------------------------------


def _usdt_address(chain: Chain, values: dict[str, Any]) -> str | None:
    """The contract `value` names, if it is the devnet's USDT (the only contract here)."""
    contract = address(values, "value")
    return contract if contract == chain.usdt_contract else None


def get_contract(chain: Chain, values: dict[str, Any]) -> Any:
    contract = _usdt_address(chain, values)
    return usdt.smart_contract(contract, chain.treasury.address) if contract else {}


def get_contract_info(chain: Chain, values: dict[str, Any]) -> Any:
    contract = _usdt_address(chain, values)
    if not contract:
        return {}
    state = chain.state
    return usdt.contract_info(contract, chain.treasury.address, state.usdt_energy, state.usdt_cycle)


def trigger_smart(chain: Chain, values: dict[str, Any]) -> Any:
    value: dict[str, Any] = {
        "owner_address": crypto.to_hex(address(values, "owner_address")),
        "contract_address": crypto.to_hex(address(values, "contract_address")),
        "data": call_data(values),
    }
    call_value = integer(values, "call_value", 0)
    if call_value:
        value["call_value"] = call_value
    fee_limit = integer(values, "fee_limit", 0)
    try:
        tx = chain.build("TriggerSmartContract", value, fee_limit=fee_limit)
    except Rejected as exc:
        return _refused(exc)
    return {"result": {"result": True}, "transaction": tx}


def _constant_call(chain: Chain, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A constant call's outcome and the (unsigned) transaction java-tron shows with it."""
    owner = address(values, "owner_address") if values.get("owner_address") else None
    contract = address(values, "contract_address")
    data = call_data(values)
    outcome = chain.call(owner, contract, data)
    value = {
        "owner_address": crypto.to_hex(owner) if owner else "41" + "00" * 20,
        "contract_address": crypto.to_hex(contract),
        "data": data,
    }
    tx = transaction_json(chain.draft("TriggerSmartContract", value))
    return outcome, {**tx, "ret": [{}]}


def trigger_constant(chain: Chain, values: dict[str, Any]) -> Any:
    try:
        outcome, tx = _constant_call(chain, values)
    except Rejected as exc:
        return _refused(exc)
    if outcome["result"] != "SUCCESS":
        return {
            "result": REVERTED,
            "energy_used": outcome["energy"],
            "constant_result": [""],
            "transaction": {**tx, "ret": [{"ret": "FAILED"}]},
        }
    return {
        "result": {"result": True},
        "energy_used": outcome["energy"],
        "constant_result": [outcome["output"]],
        "transaction": tx,
    }


def estimate_energy(chain: Chain, values: dict[str, Any]) -> Any:
    try:
        outcome, _ = _constant_call(chain, values)
    except Rejected as exc:
        return _refused(exc)
    if outcome["result"] != "SUCCESS":
        return {"result": REVERTED}
    return {"result": {"result": True}, "energy_required": outcome["energy"]}


# --- accounts and resources -----------------------------------------------------------------------


def _account(chain: Chain, solid: bool, address_: str) -> Account | None:
    """An account from the live state, or as of the solidified block for /walletsolidity/."""
    state = chain.solid_state() if solid else chain.state
    return state.accounts.get(address_)


def account(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        found = _account(chain, solid, address(values, "address"))
        return views.account_json(chain, found, trc20=False) if found else {}

    return handler


def account_resource(chain: Chain, values: dict[str, Any]) -> Any:
    found = chain.account(address(values, "address"))
    return views.account_resource_json(chain, found) if found else {}


def account_net(chain: Chain, values: dict[str, Any]) -> Any:
    found = chain.account(address(values, "address"))
    return views.account_net_json(chain, found) if found else {}


def delegated_resource_v2(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        sender = _account(chain, solid, address(values, "fromAddress"))
        receiver = address(values, "toAddress")
        return views.delegated_resources(chain, sender, receiver) if sender else {}

    return handler


def can_delegate_max_size(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        found = _account(chain, solid, address(values, "owner_address"))
        energy = integer(values, "type", 0) == 1
        size = chain.can_delegate(found) if found and energy else 0
        return {"max_size": size} if size else {}

    return handler


def delegation_index_v2(solid: bool) -> Handler:
    def handler(chain: Chain, values: dict[str, Any]) -> Any:
        found = _account(chain, solid, address(values, "value"))
        return views.delegation_index(found) if found else {}

    return handler


# Paths on java-tron's full node (/wallet/) and its solidity node (/walletsolidity/), which
# answers as of the solidified block.
_BOTH: dict[str, Callable[[bool], Handler]] = {
    "getnowblock": now_block,
    "getblockbynum": block_by_num,
    "getblockbyid": block_by_id,
    "getblock": get_block,
    "getblockbylatestnum": blocks_by_latest_num,
    "getblockbylimitnext": blocks_by_limit_next,
    "gettransactioninfobyid": tx_info,
    "gettransactioninfobyblocknum": tx_infos_by_block,
    "gettransactionbyid": tx_by_id,
    "getaccount": account,
    "getdelegatedresourcev2": delegated_resource_v2,
    "getcandelegatedmaxsize": can_delegate_max_size,
    "getdelegatedresourceaccountindexv2": delegation_index_v2,
}
_FULL_NODE_ONLY: dict[str, Handler] = {
    "getnodeinfo": node_info,
    "getchainparameters": chain_parameters,
    "listwitnesses": list_witnesses,
    "listnodes": list_nodes,
    "broadcasttransaction": broadcast,
    "getsignweight": sign_weight,
    "createtransaction": create_transaction,
    "freezebalancev2": staking("FreezeBalanceV2Contract", "frozen_balance"),
    "unfreezebalancev2": staking("UnfreezeBalanceV2Contract", "unfreeze_balance"),
    "delegateresource": delegation("DelegateResourceContract"),
    "undelegateresource": delegation("UnDelegateResourceContract"),
    "getcontract": get_contract,
    "getcontractinfo": get_contract_info,
    "triggersmartcontract": trigger_smart,
    "getaccountresource": account_resource,
    "getaccountnet": account_net,
}
# Prices, and constant calls and estimates (which read the live state on both nodes here).
_SAME_ON_BOTH: dict[str, Handler] = {
    "getenergyprices": energy_prices,
    "getbandwidthprices": bandwidth_prices,
    "triggerconstantcontract": trigger_constant,
    "estimateenergy": estimate_energy,
}


def _routes() -> dict[str, Handler]:
    routes: dict[str, Handler] = {}
    for name, make in _BOTH.items():
        routes[f"/wallet/{name}"] = make(False)
        routes[f"/walletsolidity/{name}"] = make(True)
    for name, handler in _FULL_NODE_ONLY.items():
        routes[f"/wallet/{name}"] = handler
    for name, handler in _SAME_ON_BOTH.items():
        routes[f"/wallet/{name}"] = routes[f"/walletsolidity/{name}"] = handler
    return routes


ROUTES = _routes()
