"""The devnet's USDT contract as /wallet/getcontract and /wallet/getcontractinfo show it.

The ABI is mainnet USDT's (TetherToken at TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t), reconstructed in
java-tron's JSON form: {"entrys": [...]}, types "Function"/"Event"/"Constructor" and
stateMutability "View"/"Nonpayable" capitalised, `constant` on the views, unnamed parameters
without a "name" (protobuf-JSON omits empty strings and false). The devnet runs no bytecode (the
chain answers USDT's calls itself): `bytecode` is a stub that would only revert. Addresses are
hex here; the HTTP layer turns them to base58 when the request says visible.
"""

from __future__ import annotations

from typing import Any

from paywarden.tron import crypto

# mainnet's figures for the USDT contract
CONTRACT_NAME = "TetherToken"
CONSUME_USER_RESOURCE_PERCENT = 30
ORIGIN_ENERGY_LIMIT = 10_000_000
# PUSH1 0 PUSH1 0 REVERT: a stand-in, as the devnet runs no EVM (clients only check it is there)
STUB_BYTECODE = "60006000fd"

# (name, inputs, outputs, view); a parameter is "type" or "type name"
_FUNCTIONS: list[tuple[str, list[str], list[str], bool]] = [
    ("name", [], ["string"], True),
    ("deprecate", ["address _upgradedAddress"], [], False),
    ("approve", ["address _spender", "uint256 _value"], ["bool"], False),
    ("deprecated", [], ["bool"], True),
    ("addBlackList", ["address _evilUser"], [], False),
    ("totalSupply", [], ["uint256"], True),
    ("transferFrom", ["address _from", "address _to", "uint256 _value"], ["bool"], False),
    ("upgradedAddress", [], ["address"], True),
    ("balances", ["address"], ["uint256"], True),
    ("decimals", [], ["uint8"], True),
    ("maximumFee", [], ["uint256"], True),
    ("_totalSupply", [], ["uint256"], True),
    ("unpause", [], [], False),
    ("getBlackListStatus", ["address _maker"], ["bool"], True),
    ("allowed", ["address", "address"], ["uint256"], True),
    ("paused", [], ["bool"], True),
    ("balanceOf", ["address who"], ["uint256"], True),
    ("pause", [], [], False),
    ("getOwner", [], ["address"], True),
    ("owner", [], ["address"], True),
    ("symbol", [], ["string"], True),
    ("transfer", ["address _to", "uint256 _value"], ["bool"], False),
    ("setParams", ["uint256 newBasisPoints", "uint256 newMaxFee"], [], False),
    ("issue", ["uint256 amount"], [], False),
    ("redeem", ["uint256 amount"], [], False),
    ("allowance", ["address _owner", "address _spender"], ["uint256 remaining"], True),
    ("basisPointsRate", [], ["uint256"], True),
    ("isBlackListed", ["address"], ["bool"], True),
    ("removeBlackList", ["address _clearedUser"], [], False),
    ("MAX_UINT", [], ["uint256"], True),
    ("transferOwnership", ["address newOwner"], [], False),
    ("destroyBlackFunds", ["address _blackListedUser"], [], False),
]
# (name, inputs); an indexed parameter starts with "indexed "
_EVENTS: list[tuple[str, list[str]]] = [
    ("Issue", ["uint256 amount"]),
    ("Redeem", ["uint256 amount"]),
    ("Deprecate", ["address newAddress"]),
    ("Params", ["uint256 feeBasisPoints", "uint256 maxFee"]),
    ("DestroyedBlackFunds", ["address _blackListedUser", "uint256 _balance"]),
    ("AddedBlackList", ["address _user"]),
    ("RemovedBlackList", ["address _user"]),
    ("Approval", ["indexed address owner", "indexed address spender", "uint256 value"]),
    ("Transfer", ["indexed address from", "indexed address to", "uint256 value"]),
    ("Pause", []),
    ("Unpause", []),
]
_CONSTRUCTOR = ["uint256 _initialSupply", "string _name", "string _symbol", "uint8 _decimals"]


def _param(text: str) -> dict[str, Any]:
    indexed = text.startswith("indexed ")
    kind, _, name = text.removeprefix("indexed ").partition(" ")
    out: dict[str, Any] = {"indexed": True} if indexed else {}
    if name:
        out["name"] = name
    out["type"] = kind
    return out


def _function(name: str, inputs: list[str], outputs: list[str], view: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"constant": True} if view else {}
    if inputs:
        entry["inputs"] = [_param(p) for p in inputs]
    entry["name"] = name
    if outputs:
        entry["outputs"] = [_param(p) for p in outputs]
    entry["stateMutability"] = "View" if view else "Nonpayable"
    entry["type"] = "Function"
    return entry


def _event(name: str, inputs: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"inputs": [_param(p) for p in inputs]} if inputs else {}
    entry.update(name=name, type="Event")
    return entry


ABI: dict[str, list[dict[str, Any]]] = {
    "entrys": [
        *(_function(*f) for f in _FUNCTIONS),
        {
            "inputs": [_param(p) for p in _CONSTRUCTOR],
            "stateMutability": "Nonpayable",
            "type": "Constructor",
        },
        *(_event(*e) for e in _EVENTS),
    ]
}


def smart_contract(contract: str, origin: str) -> dict[str, Any]:
    """/wallet/getcontract's SmartContract (non-visible: hex addresses)."""
    return {
        "origin_address": crypto.to_hex(origin),
        "contract_address": crypto.to_hex(contract),
        "abi": ABI,
        "bytecode": STUB_BYTECODE,
        "consume_user_resource_percent": CONSUME_USER_RESOURCE_PERCENT,
        "name": CONTRACT_NAME,
        "origin_energy_limit": ORIGIN_ENERGY_LIMIT,
        "code_hash": crypto.keccak256(bytes.fromhex(STUB_BYTECODE)).hex(),
    }


def contract_info(contract: str, origin: str, energy_usage: int, cycle: int) -> dict[str, Any]:
    """/wallet/getcontractinfo: the SmartContract, its runtime code and its state (the energy
    its calls used in maintenance cycle `cycle`; no energy_factor, as the devnet has no penalty)."""
    state = {"energy_usage": energy_usage, "update_cycle": cycle}
    return {
        "runtimecode": STUB_BYTECODE,
        "smart_contract": smart_contract(contract, origin),
        "contract_state": {k: v for k, v in state.items() if v},
    }
