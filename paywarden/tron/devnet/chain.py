"""The devnet's chain: accounts, blocks, transactions and their fees, with no HTTP in sight.

What it models, and how it differs from TRON:
- Accounts hold TRX in sun; the USDT contract (TRC-20, 6 decimals) keeps its balances in
  micro-units. Amounts are integers everywhere.
- A broadcast transaction is verified (txID, secp256k1 signature, TaPoS, expiration, replay),
  executed at once on the live state (as a TRON node applies it to its pending state) and
  included in the next block. Its info and events exist once it is in a block.
- Fees are burned at the prices of `ChainParams`: bandwidth (staked, then the free allowance
  first), energy (staked and delegated energy first), the activation fee of a new account. A
  TRC-20 transfer does not activate its recipient, as on TRON.
- Stake 2.0: FreezeBalanceV2Contract stakes TRX for ENERGY or BANDWIDTH (frozenV2); own staked
  energy and bandwidth are used before any burn, as on TRON. DelegateResourceContract (ENERGY
  only) draws from the owner's frozen ENERGY, as on TRON, when the owner has any; an owner that
  never froze TRX for ENERGY takes the devnet's shortcut instead: the delegated TRX comes from
  its liquid balance (what the gateway's sweeper relies on: its hot wallet never freezes).
  UnDelegateResourceContract returns the liquid part to the balance first, the rest to frozenV2;
  UnfreezeBalanceV2Contract returns TRX at once (the devnet has no 14-day unstaking wait and no
  WithdrawExpireUnfreeze step). Only ENERGY can be delegated.
- USDT answers its TRC-20 calls (name, symbol, decimals, totalSupply, balanceOf, allowance,
  transfer, approve, transferFrom and TetherToken's simple views) itself: it runs no EVM.
- Blocks are solidified `solidify_depth` blocks behind the head. A reorg replaces unsolidified
  blocks: their transactions vanish, unless asked to be re-included.
- Everything is in memory: a restart starts a fresh chain from the same genesis.

The class is not thread-safe: the HTTP app serialises calls with one asyncio lock.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from paywarden.tron import crypto, proto

USDT_DECIMALS = 6
TRANSFER_TOPIC = crypto.keccak256(b"Transfer(address,address,uint256)").hex()
TRANSFER_SIGNATURE = "Transfer(address indexed from, address indexed to, uint256 value)"
APPROVAL_TOPIC = crypto.keccak256(b"Approval(address,address,uint256)").hex()
SELECTOR_TRANSFER = "a9059cbb"  # transfer(address,uint256)
SELECTOR_BALANCE_OF = "70a08231"  # balanceOf(address)
SELECTOR_APPROVE = "095ea7b3"  # approve(address,uint256)
SELECTOR_TRANSFER_FROM = "23b872dd"  # transferFrom(address,address,uint256)
USDT_NAME = "Tether USD"
USDT_SYMBOL = "USDT"
SUN_PER_TRX = 1_000_000
MAX_RESULT_SIZE_IN_TX = 64  # java-tron adds this to every transaction's bandwidth
MAX_EXPIRATION_MS = 86_400_000
MAINTENANCE_INTERVAL_MS = 21_600_000  # getMaintenanceTimeInterval: 6 hours
BLOCK_VERSION = 32

# The devnet's built-in keys are derived from fixed seeds: the same addresses on every start.
# They hold devnet coins only; never send anything of value to them.
TREASURY_SEED = "paywarden devnet treasury"
WITNESS_SEED = "paywarden devnet witness"
CUSTOMER_SEED = "paywarden devnet customer {}"


class Rejected(Exception):
    """A broadcast or a transaction request refused, with java-tron's response code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DevnetError(ValueError):
    """A control-API request the devnet cannot do (the HTTP layer renders it as a 400)."""


@dataclass(frozen=True)
class ChainParams:
    """Prices and costs; the figures are mainnet's (2025) unless said otherwise."""

    transaction_fee: int = 1_000  # getTransactionFee: sun per bandwidth byte
    energy_fee: int = 100  # getEnergyFee: sun per energy unit
    create_account_fee: int = 100_000  # getCreateAccountFee: bandwidth burn of an activation
    create_new_account_fee_in_system_contract: int = 1_000_000  # the activation fee itself
    free_net_limit: int = 600  # getFreeNetLimit: free bandwidth bytes a day per account
    max_fee_limit: int = 15_000_000_000  # getMaxFeeLimit
    # Energy a day per delegated TRX: mainnet's is TotalEnergyLimit / TotalEnergyWeight (~10).
    energy_per_trx: int = 10
    # USDT's energy per call, penalty included: a recipient holding no USDT costs a new slot.
    usdt_transfer_energy: int = 64_285
    usdt_transfer_energy_new_holder: int = 130_285
    usdt_revert_energy: int = 2_000  # a devnet figure: what a failing transfer burns
    usdt_approve_energy: int = 22_557  # a devnet figure, close to mainnet's approve
    balance_of_energy: int = 935
    # Bandwidth a day per TRX staked for BANDWIDTH (TotalNetLimit / TotalNetWeight): a devnet
    # figure in mainnet's range.
    bandwidth_per_trx: int = 1
    window_ms: int = 86_400_000  # energy and free bandwidth recover linearly over a day

    def chain_parameters(self) -> list[dict[str, int | str]]:
        """java-tron's /wallet/getchainparameters list (it omits a value of 0)."""
        pairs = [
            ("getMaintenanceTimeInterval", MAINTENANCE_INTERVAL_MS),
            ("getTransactionFee", self.transaction_fee),
            ("getEnergyFee", self.energy_fee),
            ("getCreateAccountFee", self.create_account_fee),
            (
                "getCreateNewAccountFeeInSystemContract",
                self.create_new_account_fee_in_system_contract,
            ),
            ("getFreeNetLimit", self.free_net_limit),
            ("getMaxFeeLimit", self.max_fee_limit),
            ("getAllowDelegateResource", 1),
            ("getUnfreezeDelayDays", 14),
        ]
        return [{"key": k, "value": v} if v else {"key": k} for k, v in pairs]


@dataclass
class Account:
    address: str  # base58
    balance: int = 0  # sun
    create_time: int = 0
    latest_operation_time: int = 0
    free_net_used: int = 0
    free_net_time: int = 0
    energy_used: int = 0
    energy_time: int = 0
    energy_delegated_out: dict[str, int] = field(default_factory=dict)  # receiver -> sun
    energy_delegated_in: dict[str, int] = field(default_factory=dict)  # owner -> sun
    # The part of energy_delegated_out taken from the liquid balance (the devnet's shortcut).
    energy_delegated_liquid: dict[str, int] = field(default_factory=dict)  # receiver -> sun
    frozen_energy: int = 0  # staked for ENERGY and not delegated (frozenV2's ENERGY amount)
    frozen_bandwidth: int = 0  # staked for BANDWIDTH (frozenV2's first amount)
    net_used: int = 0  # staked bandwidth used (recovering over the window)
    net_time: int = 0
    is_contract: bool = False


@dataclass
class State:
    accounts: dict[str, Account] = field(default_factory=dict)
    usdt: dict[str, int] = field(default_factory=dict)  # holder (base58) -> micro-USDT
    allowances: dict[tuple[str, str], int] = field(default_factory=dict)  # (owner, spender)
    # USDT's ContractState: the energy its calls used in the current maintenance cycle
    usdt_energy: int = 0
    usdt_cycle: int = 0

    def copy(self) -> State:
        # Taken after every block: a deep copy only of what is mutable (balances are ints).
        return State(
            accounts={
                address: dataclasses.replace(
                    account,
                    energy_delegated_out=dict(account.energy_delegated_out),
                    energy_delegated_in=dict(account.energy_delegated_in),
                    energy_delegated_liquid=dict(account.energy_delegated_liquid),
                )
                for address, account in self.accounts.items()
            },
            usdt=dict(self.usdt),
            allowances=dict(self.allowances),
            usdt_energy=self.usdt_energy,
            usdt_cycle=self.usdt_cycle,
        )


@dataclass
class Transaction:
    """A verified transaction: its canonical raw bytes and the raw_data they decode to."""

    txid: str
    raw: bytes
    raw_data: dict[str, Any]  # non-visible JSON (hex addresses), decoded from `raw`
    signatures: list[bytes]

    @property
    def contract(self) -> dict[str, Any]:
        return self.raw_data["contract"][0]

    @property
    def contract_type(self) -> str:
        return str(self.contract["type"])

    @property
    def value(self) -> dict[str, Any]:
        return dict(self.contract["parameter"]["value"])

    @property
    def owner(self) -> str:
        return crypto.normalize(self.value["owner_address"])

    def bandwidth(self) -> int:
        return len(proto.encode_transaction(self.raw, self.signatures)) + MAX_RESULT_SIZE_IN_TX


@dataclass
class Effects:
    """What executing a transaction did: its result, fee and receipt, and its USDT transfer."""

    result: str = "SUCCESS"  # the receipt's result: SUCCESS, REVERT, OUT_OF_ENERGY
    fee: int = 0
    receipt: dict[str, int | str] = field(default_factory=dict)
    contract_result: str = ""
    transfer: tuple[str, str, int] | None = None  # USDT (from, to, value), base58
    approval: tuple[str, str, int] | None = None  # USDT (owner, spender, value), base58


@dataclass
class Included:
    tx: Transaction
    effects: Effects


@dataclass
class Block:
    number: int
    block_id: str
    parent_hash: str
    timestamp: int
    witness: str
    txs: list[Included]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def recovered(used: int, since_ms: int, now_ms: int, window_ms: int) -> int:
    """Usage left after linear recovery over the window (java-tron's resource model)."""
    elapsed = now_ms - since_ms
    if elapsed <= 0:
        return used
    if elapsed >= window_ms:
        return 0
    return used * (window_ms - elapsed) // window_ms


def word(value: int) -> str:
    return f"{value:064x}"


class Chain:
    """The devnet's chain state and rules. All methods are synchronous and quick."""

    def __init__(
        self,
        usdt_contract: str,
        *,
        solidify_depth: int = 19,
        params: ChainParams | None = None,
        customers: int = 3,
        customer_trx: int = 10_000 * SUN_PER_TRX,
        customer_usdt: int = 1_000_000 * 10**USDT_DECIMALS,
    ) -> None:
        if solidify_depth < 0:
            raise ValueError("solidify_depth must be >= 0")
        self.usdt_contract = crypto.normalize(usdt_contract)
        self.solidify_depth = solidify_depth
        self.params = params or ChainParams()
        self.treasury = crypto.KeyPair.from_seed(TREASURY_SEED)
        self.witness = crypto.KeyPair.from_seed(WITNESS_SEED)
        self.customers = [
            crypto.KeyPair.from_seed(CUSTOMER_SEED.format(i)) for i in range(customers)
        ]
        now = _now_ms()
        self.state = State()
        self._open(self.treasury.address, 10**11 * SUN_PER_TRX, now)
        self.state.usdt[self.treasury.address] = 10**9 * 10**USDT_DECIMALS
        contract = self._open(self.usdt_contract, 0, now)
        contract.is_contract = True
        for customer in self.customers:
            self._open(customer.address, customer_trx, now)
            self.state.usdt[customer.address] = customer_usdt
        self.blocks: list[Block] = []
        self.pending: list[Included] = []
        self._txids: dict[str, int | None] = {}  # txid -> block number (None: pending)
        self._tapos: dict[str, int] = {}  # block_id[12:32] -> block number
        # State after each block that a reorg may still return to (solidified onwards).
        self._snapshots: dict[int, State] = {}
        self._seal([], now)

    # --- reading ---

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def solidified(self) -> Block:
        return self.blocks[max(0, self.head.number - self.solidify_depth)]

    def block(self, number: int) -> Block | None:
        return self.blocks[number] if 0 <= number < len(self.blocks) else None

    def account(self, address: str) -> Account | None:
        return self.state.accounts.get(crypto.normalize(address))

    def usdt_balance(self, address: str) -> int:
        return self.state.usdt.get(crypto.normalize(address), 0)

    def energy_limit(self, account: Account) -> int:
        staked = account.frozen_energy + sum(account.energy_delegated_in.values())
        return staked // SUN_PER_TRX * self.params.energy_per_trx

    def net_limit(self, account: Account) -> int:
        return account.frozen_bandwidth // SUN_PER_TRX * self.params.bandwidth_per_trx

    def solid_state(self) -> State:
        """The state as of the solidified block (what /walletsolidity/ reads)."""
        return self._snapshots[self.solidified.number]

    def usdt_total_supply(self) -> int:
        return sum(self.state.usdt.values())

    def can_delegate(self, account: Account) -> int:
        """getcandelegatedmaxsize for ENERGY: the frozen ENERGY not yet delegated."""
        return account.frozen_energy

    def now_ms(self) -> int:
        return max(_now_ms(), self.head.timestamp)

    def find(self, txid: str, *, solidified: bool = False) -> tuple[Block, Included] | None:
        number = self._txids.get(txid.lower())
        if number is None:
            return None
        if solidified and number > self.solidified.number:
            return None
        block = self.blocks[number]
        for included in block.txs:
            if included.tx.txid == txid.lower():
                return block, included
        return None

    # --- blocks ---

    def _seal(self, txs: list[Included], timestamp: int) -> Block:
        number = len(self.blocks)
        parent = self.blocks[-1].block_id if self.blocks else "00" * 32
        tx_root = crypto.sha256(b"".join(bytes.fromhex(i.tx.txid) for i in txs)).hex()
        header = f"{number}:{parent}:{timestamp}:{tx_root}:{self.witness.address}".encode()
        block_id = f"{number:016x}" + crypto.sha256(header).hex()[16:]
        block = Block(number, block_id, parent, timestamp, self.witness.address, txs)
        self.blocks.append(block)
        self._tapos[block_id[12:32]] = number
        for included in txs:
            self._txids[included.tx.txid] = number
        self._snapshots[number] = self.state.copy()
        for old in [n for n in self._snapshots if n < self.solidified.number]:
            del self._snapshots[old]
        return block

    def mine(self, blocks: int = 1) -> list[Block]:
        """Seal the pending transactions into the next block, then any empty blocks after it."""
        if blocks < 1:
            raise DevnetError("blocks must be at least 1")
        out = []
        for _ in range(blocks):
            txs, self.pending = self.pending, []
            # Strictly increasing timestamps even when many blocks are mined in one millisecond.
            out.append(self._seal(txs, max(_now_ms(), self.head.timestamp + 1)))
        return out

    def reorg(self, depth: int, *, reinclude: bool = False) -> list[Block]:
        """Replace the last `depth` (unsolidified) blocks with as many new ones.

        The replaced blocks' transactions vanish (their txids may be broadcast again), unless
        `reinclude`, when those still valid go into the first new block. Pending transactions
        survive either way.
        """
        unsolidified = self.head.number - self.solidified.number
        if not 1 <= depth <= unsolidified:
            raise DevnetError(
                f"depth must be between 1 and {unsolidified} (the unsolidified blocks)"
            )
        fork = self.head.number - depth
        dropped = [i.tx for b in self.blocks[fork + 1 :] for i in b.txs]
        waiting = [i.tx for i in self.pending]
        for block in self.blocks[fork + 1 :]:
            del self._tapos[block.block_id[12:32]]
            self._snapshots.pop(block.number, None)
            for included in block.txs:
                self._txids.pop(included.tx.txid, None)
        for included in self.pending:
            self._txids.pop(included.tx.txid, None)
        del self.blocks[fork + 1 :]
        self.state = self._snapshots[fork].copy()
        self.pending = []
        for tx in (dropped if reinclude else []) + waiting:
            try:
                self._admit(tx)
            except Rejected:
                continue  # no longer valid on the new branch: it vanishes
        return self.mine(depth)

    # --- transactions ---

    def parse(self, body: Any) -> Transaction:
        """A transaction from TronGrid's broadcast JSON, verified to say what was signed.

        The raw bytes come from raw_data_hex when given (and raw_data, if also given, must
        encode to exactly those bytes), else from encoding raw_data. The txID must be their
        sha256, and the one signature must recover the contract's owner address.
        """
        unsigned = self.unsigned(body)
        txid, raw, raw_data = unsigned.txid, unsigned.raw, unsigned.raw_data
        if body.get("txID") and str(body["txID"]).lower() != txid:
            raise Rejected("SIGERROR", "txID is not the sha256 of raw_data")
        signatures = body.get("signature") or []
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise Rejected("SIGERROR", "a transaction needs exactly one signature here")
        try:
            signature = bytes.fromhex(str(signatures[0]))
            signer = crypto.recover_address(bytes.fromhex(txid), signature)
        except (ValueError, crypto.InvalidSignature) as exc:
            raise Rejected("SIGERROR", f"Validate signature error: {exc}") from exc
        tx = Transaction(txid, raw, raw_data, [signature])
        if signer != tx.owner:
            raise Rejected(
                "SIGERROR",
                f"Validate signature error: {txid} is signed by {signer} "
                f"but it is not contained of permission.",
            )
        return tx

    @staticmethod
    def unsigned(body: Any) -> Transaction:
        """The transaction a JSON body describes (raw_data_hex, else raw_data), unverified."""
        if not isinstance(body, dict):
            raise Rejected("OTHER_ERROR", "transaction must be a JSON object")
        try:
            if body.get("raw_data_hex"):
                raw = bytes.fromhex(str(body["raw_data_hex"]))
                if body.get("raw_data") is not None and proto.encode_raw(body["raw_data"]) != raw:
                    raise Rejected("SIGERROR", "raw_data does not match raw_data_hex")
            else:
                raw = proto.encode_raw(body.get("raw_data"))
            raw_data = proto.decode_raw(raw)
        except (proto.ProtoError, ValueError) as exc:
            raise Rejected("OTHER_ERROR", f"invalid transaction: {exc}") from exc
        return Transaction(crypto.sha256(raw).hex(), raw, raw_data, [])

    def broadcast(self, body: Any) -> str:
        """Verify, execute on the live state and queue for the next block; the txid."""
        tx = self.parse(body)
        self._admit(tx)
        return tx.txid

    def _admit(self, tx: Transaction) -> None:
        if tx.txid in self._txids:
            raise Rejected("DUP_TRANSACTION_ERROR", "Dup transaction.")
        ref = tx.raw_data.get("ref_block_bytes", "") + tx.raw_data.get("ref_block_hash", "")
        if ref not in self._tapos:
            raise Rejected("TAPOS_ERROR", f"Tapos check error: no block with reference {ref}")
        expiration = int(tx.raw_data.get("expiration", 0))
        head_time = self.head.timestamp
        if not head_time < expiration <= head_time + MAX_EXPIRATION_MS:
            raise Rejected("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
        effects = self._execute(tx, self.now_ms())
        self.pending.append(Included(tx, effects))
        self._txids[tx.txid] = None

    def _execute(self, tx: Transaction, now: int) -> Effects:
        """Validate everything first, then change the state (so a refusal changes nothing)."""
        handlers = {
            "TransferContract": self._transfer_trx,
            "TriggerSmartContract": self._trigger,
            "FreezeBalanceV2Contract": self._freeze,
            "UnfreezeBalanceV2Contract": self._unfreeze,
            "DelegateResourceContract": self._delegate,
            "UnDelegateResourceContract": self._undelegate,
        }
        owner = self.state.accounts.get(tx.owner)
        if owner is None:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                f"Validate {tx.contract_type} error, no OwnerAccount.",
            )
        effects = handlers[tx.contract_type](tx, owner, now)
        owner.latest_operation_time = now
        return effects

    def _bandwidth(self, tx: Transaction, owner: Account, now: int, spare: int) -> dict[str, int]:
        """Staked bandwidth, else free bandwidth if it covers the transaction, else burn
        (java-tron's order); checks that `spare` sun pays a burn."""
        size = tx.bandwidth()
        staked = recovered(owner.net_used, owner.net_time, now, self.params.window_ms)
        if staked + size <= self.net_limit(owner):
            owner.net_used, owner.net_time = staked + size, now
            return {"net_usage": size}
        used = recovered(owner.free_net_used, owner.free_net_time, now, self.params.window_ms)
        if used + size <= self.params.free_net_limit:
            owner.free_net_used, owner.free_net_time = used + size, now
            return {"net_usage": size}
        fee = size * self.params.transaction_fee
        if fee > spare:
            raise Rejected("BANDWITH_ERROR", "Account resource insufficient error.")
        owner.balance -= fee
        return {"net_fee": fee}

    def _transfer_trx(self, tx: Transaction, owner: Account, now: int) -> Effects:
        value = tx.value
        amount = int(value.get("amount", 0))
        to = crypto.normalize(value["to_address"])
        if amount <= 0:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "Amount must be greater than 0.")
        if to == owner.address:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "Cannot transfer TRX to yourself.")
        creates = to not in self.state.accounts
        system_fee = self.params.create_new_account_fee_in_system_contract if creates else 0
        if owner.balance < amount + system_fee:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                "Validate TransferContract error, balance is not sufficient.",
            )
        spare = owner.balance - amount - system_fee
        if creates:
            # An activation burns getCreateAccountFee instead of the bandwidth it uses.
            if spare < self.params.create_account_fee:
                raise Rejected("BANDWITH_ERROR", "Account resource insufficient error.")
            owner.balance -= self.params.create_account_fee
            receipt: dict[str, int | str] = {"net_fee": self.params.create_account_fee}
        else:
            receipt = dict(self._bandwidth(tx, owner, now, spare))
        owner.balance -= amount + system_fee
        target = self._open(to, 0, now) if creates else self.state.accounts[to]
        target.balance += amount
        fee = int(receipt.get("net_fee", 0)) + system_fee
        return Effects(fee=fee, receipt=receipt)

    def _energy_available(self, account: Account, now: int) -> int:
        used = recovered(account.energy_used, account.energy_time, now, self.params.window_ms)
        return max(0, self.energy_limit(account) - used)

    def _trigger(self, tx: Transaction, owner: Account, now: int) -> Effects:
        value = tx.value
        if crypto.normalize(value["contract_address"]) != self.usdt_contract:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "No contract or not a valid smart contract")
        fee_limit = int(tx.raw_data.get("fee_limit", 0))
        if not 0 <= fee_limit <= self.params.max_fee_limit:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                f"feeLimit must be >= 0 and <= {self.params.max_fee_limit}",
            )
        if int(value.get("call_value", 0)) < 0:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "callValue must be >= 0")
        outcome = self._run_usdt(
            owner.address, str(value.get("data", "")), int(value.get("call_value", 0))
        )
        net = self._bandwidth(tx, owner, now, owner.balance)
        receipt: dict[str, int | str] = dict(net)
        energy = outcome.energy
        available = self._energy_available(owner, now)
        from_stake = min(energy, available)
        burn = (energy - from_stake) * self.params.energy_fee
        budget = min(fee_limit, owner.balance)
        result = outcome.result
        if burn > budget:
            # As on mainnet: the call ran until the fee limit's energy was spent, and that is
            # what the receipt counts (the stake's part and what the burned TRX bought).
            result, burn = "OUT_OF_ENERGY", budget - budget % self.params.energy_fee
            energy = from_stake + burn // self.params.energy_fee
        # java-tron's useEnergy runs on every call, the staked part 0 or not: the time moves.
        owner.energy_used = (
            recovered(owner.energy_used, owner.energy_time, now, self.params.window_ms) + from_stake
        )
        owner.energy_time = now
        if from_stake:
            receipt["energy_usage"] = from_stake
        owner.balance -= burn
        if burn:
            receipt["energy_fee"] = burn
        receipt["energy_usage_total"] = energy
        self._count_contract_energy(energy, now)
        receipt["result"] = result
        effects = Effects(
            result=result,
            fee=burn + int(net.get("net_fee", 0)),
            receipt=receipt,
            contract_result=outcome.output if result == "SUCCESS" else "",
        )
        if result == "SUCCESS":
            self._apply_usdt(outcome, effects)
        return effects

    def _count_contract_energy(self, energy: int, now: int) -> None:
        cycle = now // MAINTENANCE_INTERVAL_MS
        if cycle != self.state.usdt_cycle:
            self.state.usdt_cycle, self.state.usdt_energy = cycle, 0
        self.state.usdt_energy += energy

    def _apply_usdt(self, outcome: _CallOutcome, effects: Effects) -> None:
        if outcome.transfer:
            sender, to, amount = outcome.transfer
            self.state.usdt[sender] -= amount
            self.state.usdt[to] = self.state.usdt.get(to, 0) + amount
            if outcome.spender:
                self.state.allowances[(sender, outcome.spender)] -= amount
            effects.transfer = outcome.transfer
        if outcome.approval:
            owner, spender, amount = outcome.approval
            self.state.allowances[(owner, spender)] = amount
            effects.approval = outcome.approval

    def _run_usdt(self, caller: str, data: str, call_value: int) -> _CallOutcome:
        """USDT's behaviour for a call, without changing anything."""
        data = data.lower()
        selector, args = data[:8], data[8:]
        reverted = _CallOutcome("REVERT", self.params.usdt_revert_energy)
        if call_value or len(args) % 64:
            return reverted  # USDT's functions are not payable
        try:
            words = [int(args[i : i + 64], 16) for i in range(0, len(args), 64)]
        except ValueError:
            return reverted
        view = self._usdt_views().get((selector, len(words)))
        if view is not None:
            return _CallOutcome("SUCCESS", self.params.balance_of_energy, view(words))
        if any(w >> 160 for w in words[:-1]):
            return reverted  # an address argument with dirty high bits
        addresses = [_address_word(w) for w in words[:-1]]
        if selector == SELECTOR_TRANSFER and len(words) == 2:
            return self._usdt_transfer(caller, addresses[0], words[1], reverted)
        if selector == SELECTOR_TRANSFER_FROM and len(words) == 3:
            sender, to = addresses
            if words[2] > self.state.allowances.get((sender, caller), 0):
                return reverted
            outcome = self._usdt_transfer(sender, to, words[2], reverted)
            return dataclasses.replace(outcome, spender=caller)
        if selector == SELECTOR_APPROVE and len(words) == 2:
            approval = (caller, addresses[0], words[1])
            return _CallOutcome(
                "SUCCESS", self.params.usdt_approve_energy, word(1), approval=approval
            )
        return reverted

    def _usdt_transfer(
        self, sender: str, to: str, amount: int, reverted: _CallOutcome
    ) -> _CallOutcome:
        if amount > self.state.usdt.get(sender, 0):
            return reverted
        energy = (
            self.params.usdt_transfer_energy
            if self.state.usdt.get(to, 0)
            else self.params.usdt_transfer_energy_new_holder
        )
        return _CallOutcome("SUCCESS", energy, word(1), (sender, to, amount))

    def _usdt_views(self) -> dict[tuple[str, int], Callable[[list[int]], str]]:
        """TetherToken's read-only functions: (selector, argument words) -> ABI-encoded output."""
        usdt, allowances = self.state.usdt, self.state.allowances

        def balance(w: list[int]) -> str:
            return word(usdt.get(_address_word(w[0]), 0))

        def allowance(w: list[int]) -> str:
            return word(allowances.get((_address_word(w[0]), _address_word(w[1])), 0))

        def const(value: int) -> Callable[[list[int]], str]:
            return lambda _: word(value)

        owner = const(int.from_bytes(crypto.to_raw(self.treasury.address)[1:]))
        views: dict[str, tuple[int, Callable[[list[int]], str]]] = {
            "name()": (0, lambda _: abi_string(USDT_NAME)),
            "symbol()": (0, lambda _: abi_string(USDT_SYMBOL)),
            "decimals()": (0, const(USDT_DECIMALS)),
            "totalSupply()": (0, lambda _: word(self.usdt_total_supply())),
            "_totalSupply()": (0, lambda _: word(self.usdt_total_supply())),
            "balanceOf(address)": (1, balance),
            "balances(address)": (1, balance),
            "allowance(address,address)": (2, allowance),
            "allowed(address,address)": (2, allowance),
            "owner()": (0, owner),
            "getOwner()": (0, owner),
            "paused()": (0, const(0)),
            "deprecated()": (0, const(0)),
            "upgradedAddress()": (0, const(0)),
            "basisPointsRate()": (0, const(0)),
            "maximumFee()": (0, const(0)),
            "MAX_UINT()": (0, const(2**256 - 1)),
            "getBlackListStatus(address)": (1, const(0)),
            "isBlackListed(address)": (1, const(0)),
        }
        return {(_selector(sig), n): fn for sig, (n, fn) in views.items()}

    def _delegation(self, tx: Transaction, owner: Account) -> tuple[int, Account]:
        value = tx.value
        if value.get("resource", "BANDWIDTH") != "ENERGY":
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", "the devnet delegates ENERGY only (resource=ENERGY)"
            )
        balance = int(value.get("balance", 0))
        if balance < SUN_PER_TRX:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", "delegateBalance must be greater than or equal to 1 TRX"
            )
        receiver_address = crypto.normalize(value["receiver_address"])
        if receiver_address == owner.address:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", "receiverAddress must not be the same as ownerAddress"
            )
        receiver = self.state.accounts.get(receiver_address)
        if receiver is None:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", f"Account [{receiver_address}] does not exist"
            )
        return balance, receiver

    def _delegate(self, tx: Transaction, owner: Account, now: int) -> Effects:
        balance, receiver = self._delegation(tx, owner)
        # An owner that stakes follows TRON's rule; one that never froze takes the shortcut.
        from_frozen = self._stakes_energy(owner)
        available = owner.frozen_energy if from_frozen else owner.balance
        if available < balance:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                "delegateBalance must be less than or equal to available FreezeEnergyV2 balance",
            )
        net = self._bandwidth(tx, owner, now, owner.balance - (0 if from_frozen else balance))
        if from_frozen:
            owner.frozen_energy -= balance
        else:  # the devnet's shortcut: straight from the liquid balance
            owner.balance -= balance
            liquid = owner.energy_delegated_liquid
            liquid[receiver.address] = liquid.get(receiver.address, 0) + balance
        out, into = owner.energy_delegated_out, receiver.energy_delegated_in
        out[receiver.address] = out.get(receiver.address, 0) + balance
        into[owner.address] = into.get(owner.address, 0) + balance
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

    @staticmethod
    def _stakes_energy(account: Account) -> bool:
        """Whether the account has TRX frozen for ENERGY (delegated or not)."""
        liquid = sum(account.energy_delegated_liquid.values())
        return account.frozen_energy + sum(account.energy_delegated_out.values()) > liquid

    def _undelegate(self, tx: Transaction, owner: Account, now: int) -> Effects:
        balance, receiver = self._delegation(tx, owner)
        delegated = owner.energy_delegated_out.get(receiver.address, 0)
        if delegated < balance:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                f"insufficient delegatedFrozenBalance(Energy), request={balance}, "
                f"unDelegateBalance={delegated}",
            )
        net = self._bandwidth(tx, owner, now, owner.balance)
        liquid = min(balance, owner.energy_delegated_liquid.get(receiver.address, 0))
        for book, key, amount in (
            (owner.energy_delegated_out, receiver.address, balance),
            (receiver.energy_delegated_in, owner.address, balance),
            (owner.energy_delegated_liquid, receiver.address, liquid),
        ):
            if amount:
                book[key] -= amount
                if not book[key]:
                    del book[key]
        owner.balance += liquid
        owner.frozen_energy += balance - liquid
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

    def _freeze(self, tx: Transaction, owner: Account, now: int) -> Effects:
        """FreezeBalanceV2Contract: stake TRX for ENERGY or BANDWIDTH (java-tron's checks)."""
        value = tx.value
        amount = int(value.get("frozen_balance", 0))
        resource = value.get("resource", "BANDWIDTH")
        if amount <= 0:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "frozenBalance must be positive")
        if amount < SUN_PER_TRX:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", "frozenBalance must be greater than or equal to 1 TRX"
            )
        if amount > owner.balance:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                "frozenBalance must be less than or equal to accountBalance",
            )
        if resource not in ("BANDWIDTH", "ENERGY"):
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                "ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]",
            )
        net = self._bandwidth(tx, owner, now, owner.balance - amount)
        owner.balance -= amount
        if resource == "ENERGY":
            owner.frozen_energy += amount
        else:
            owner.frozen_bandwidth += amount
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

    def _unfreeze(self, tx: Transaction, owner: Account, now: int) -> Effects:
        """UnfreezeBalanceV2Contract: the TRX comes back at once (no unstaking wait here)."""
        value = tx.value
        amount = int(value.get("unfreeze_balance", 0))
        energy = value.get("resource", "BANDWIDTH") == "ENERGY"
        frozen = owner.frozen_energy if energy else owner.frozen_bandwidth
        if not frozen:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                f"no frozenBalance({'Energy' if energy else 'Bandwidth'})",
            )
        if not 0 < amount <= frozen:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR", f"Invalid unfreeze_balance, [{amount}] is invalid"
            )
        net = self._bandwidth(tx, owner, now, owner.balance)
        if energy:
            owner.frozen_energy -= amount
        else:
            owner.frozen_bandwidth -= amount
        owner.balance += amount
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

    # --- building (the /wallet/create... endpoints) ---

    def build(
        self, contract_type: str, value: dict[str, Any], *, fee_limit: int | None = None
    ) -> dict[str, Any]:
        """An unsigned transaction referencing the head block, as java-tron returns it, once
        its contract passes its checks."""
        tx = self.draft(contract_type, value, fee_limit=fee_limit)
        self._dry_run(tx)
        return transaction_json(tx)

    def draft(
        self, contract_type: str, value: dict[str, Any], *, fee_limit: int | None = None
    ) -> Transaction:
        """An unsigned transaction referencing the head block, unchecked."""
        now = _now_ms()
        raw_data: dict[str, Any] = {
            "contract": [
                {
                    "parameter": {
                        "value": value,
                        "type_url": proto.TYPE_URL_PREFIX + contract_type,
                    },
                    "type": contract_type,
                }
            ],
            "ref_block_bytes": self.head.block_id[12:16],
            "ref_block_hash": self.head.block_id[16:32],
            "expiration": max(now, self.head.timestamp) + 60_000,
            "timestamp": now,
        }
        if fee_limit:
            raw_data["fee_limit"] = fee_limit
        try:
            raw = proto.encode_raw(raw_data)
        except proto.ProtoError as exc:
            raise Rejected("CONTRACT_VALIDATE_ERROR", str(exc)) from exc
        return Transaction(crypto.sha256(raw).hex(), raw, proto.decode_raw(raw), [])

    def _dry_run(self, tx: Transaction) -> None:
        """Run a transaction's contract checks on a copy of the state (createtransaction does)."""
        saved = self.state
        self.state = saved.copy()
        try:
            self._execute(tx, self.now_ms())
        except Rejected as exc:
            if exc.code == "CONTRACT_VALIDATE_ERROR":
                raise
        finally:
            self.state = saved

    def call(self, owner: str | None, contract: str, data: str) -> dict[str, Any]:
        """A constant call (triggerconstantcontract): the result and the energy it would use."""
        if crypto.normalize(contract) != self.usdt_contract:
            raise Rejected("CONTRACT_VALIDATE_ERROR", "No contract or not a valid smart contract")
        caller = crypto.normalize(owner) if owner else crypto.to_base58(bytes(21))
        outcome = self._run_usdt(caller, data, 0)
        return {"result": outcome.result, "energy": outcome.energy, "output": outcome.output}

    def sign_weight(self, body: Any) -> dict[str, Any]:
        """/wallet/getsignweight: the owner's permission and the weight the signatures carry.

        As java-tron, it reads raw_data when given and ignores raw_data_hex (TronWeb's multiSign
        changes raw_data after building). ENOUGH_PERMISSION is the enum's 0: left out.
        """
        if isinstance(body, dict) and body.get("raw_data") is not None:
            body = {k: v for k, v in body.items() if k != "raw_data_hex"}
        tx = self.unsigned(body)
        result: dict[str, Any] = {}
        out: dict[str, Any] = {
            "result": result,
            "transaction": {
                "result": {"result": True},
                "txid": tx.txid,
                "transaction": transaction_json(tx),
            },
        }
        if self.account(tx.owner) is None:
            result.update(code="PERMISSION_ERROR", message="account does not exist")
            return out
        out["permission"] = owner_permission(tx.owner)
        signers = []
        for signature in body.get("signature") or []:
            try:
                signer = crypto.recover_address(bytes.fromhex(tx.txid), bytes.fromhex(signature))
            except (ValueError, crypto.InvalidSignature):
                result.update(code="SIGNATURE_FORMAT_ERROR", message="Signature size is wrong")
                return out
            if signer == tx.owner:
                signers.append(crypto.to_hex(signer))
        if signers:
            out["approved_list"] = signers
            out["current_weight"] = 1
        if not signers:
            result["code"] = "NOT_ENOUGH_PERMISSION"
        return out

    def sign(self, tx_json: dict[str, Any], key: crypto.KeyPair) -> dict[str, Any]:
        return {**tx_json, "signature": [key.sign(bytes.fromhex(tx_json["txID"])).hex()]}

    # --- control API ---

    def faucet(self, address: str, *, trx: int = 0, usdt: int = 0) -> list[str]:
        """Send TRX (sun) and USDT (micro-units) from the treasury, as real signed transactions."""
        to = crypto.normalize(address)
        txids = []
        if trx:
            tx = self.build(
                "TransferContract",
                {
                    "owner_address": crypto.to_hex(self.treasury.address),
                    "to_address": crypto.to_hex(to),
                    "amount": trx,
                },
            )
            txids.append(self.broadcast(self.sign(tx, self.treasury)))
        if usdt:
            txids.append(self._send_usdt(self.treasury, to, usdt))
        return txids

    def pay(self, to: str, amount: int, sender: str | None = None) -> str:
        """A USDT transfer signed by a built-in customer (the first unless `sender` says which)."""
        customer = self.customers[0]
        if sender is not None:
            matches = [c for c in self.customers if c.address == crypto.normalize(sender)]
            if not matches:
                raise DevnetError(f"{sender} is not one of the devnet's customers")
            customer = matches[0]
        return self._send_usdt(customer, crypto.normalize(to), amount)

    def _send_usdt(self, key: crypto.KeyPair, to: str, amount: int) -> str:
        data = SELECTOR_TRANSFER + word(int.from_bytes(crypto.to_raw(to)[1:])) + word(amount)
        tx = self.build(
            "TriggerSmartContract",
            {
                "owner_address": crypto.to_hex(key.address),
                "contract_address": crypto.to_hex(self.usdt_contract),
                "data": data,
            },
            fee_limit=100 * SUN_PER_TRX,
        )
        txid = self.broadcast(self.sign(tx, key))
        effects = self.pending[-1].effects
        if effects.result != "SUCCESS":
            # The transaction stays (it burned its fee, as on TRON), but say why nothing moved.
            raise DevnetError(f"the transfer failed on chain ({effects.result}): {txid}")
        return txid

    def _open(self, address: str, balance: int, now: int) -> Account:
        account = Account(address, balance, create_time=now, latest_operation_time=now)
        self.state.accounts[address] = account
        return account

    # --- events ---

    def events(
        self,
        contract: str,
        *,
        event_name: str | None = None,
        block_number: int | None = None,
        ascending: bool = False,
        **window: Any,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of Transfer events in TronGrid's shape, and the fingerprint of the next.

        `window`: only_confirmed, only_unconfirmed, min_timestamp, max_timestamp, limit and
        fingerprint, as `_page` takes them.
        """
        if crypto.normalize(contract) != self.usdt_contract or event_name not in (None, "Transfer"):
            return [], None
        return self._page(
            self._transfers(ascending, block_number),
            lambda block, included, unconfirmed: self._event_json(
                block, included, unconfirmed=unconfirmed
            ),
            ascending=ascending,
            **window,
        )

    def events_of(
        self, *, txid: str | None = None, block_number: int | None = None
    ) -> list[dict[str, Any]]:
        """The events of one transaction or one block (TronGrid's event server paths)."""
        if txid is not None:
            found = self.find(txid)
            if found is None:
                return []
            block_number = found[0].number
        if block_number is None:
            return []
        page, _ = self.events(self.usdt_contract, block_number=block_number, limit=10**9)
        return [e for e in page if txid is None or e["transaction_id"] == txid.lower()]

    def trc20_history(
        self,
        address: str,
        *,
        contract: str | None = None,
        only_to: bool = False,
        only_from: bool = False,
        ascending: bool = False,
        **window: Any,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of an account's USDT transfers (/v1/accounts/{address}/transactions/trc20)."""
        holder = crypto.normalize(address)
        if contract and crypto.normalize(contract) != self.usdt_contract:
            return [], None

        def involved(included: Included) -> bool:
            assert included.effects.transfer is not None
            sender, to, _ = included.effects.transfer
            return (to == holder and not only_from) or (sender == holder and not only_to)

        return self._page(
            (t for t in self._transfers(ascending) if involved(t[2])),
            self._history_json,
            ascending=ascending,
            **window,
        )

    def _page(
        self,
        items: Iterable[tuple[tuple[int, int, int], Block, Included]],
        render: Callable[[Block, Included, bool], dict[str, Any]],
        *,
        ascending: bool,
        only_confirmed: bool = False,
        only_unconfirmed: bool = False,
        min_timestamp: int | None = None,
        max_timestamp: int | None = None,
        limit: int = 20,
        fingerprint: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of `items` (in order) past `fingerprint`, and the fingerprint of the next."""
        after = _read_fingerprint(fingerprint) if fingerprint else None
        solid = self.solidified.number
        page: list[dict[str, Any]] = []
        last_key: tuple[int, int, int] | None = None
        for key, block, included in items:
            if after is not None and (key <= after if ascending else key >= after):
                continue
            if only_confirmed and block.number > solid:
                continue
            if only_unconfirmed and block.number <= solid:
                continue
            if min_timestamp is not None and block.timestamp < min_timestamp:
                continue
            if max_timestamp is not None and block.timestamp > max_timestamp:
                continue
            if len(page) == limit:
                assert last_key is not None
                return page, _make_fingerprint(last_key)
            page.append(render(block, included, block.number > solid))
            last_key = key
        return page, None

    def _history_json(self, block: Block, included: Included, _: bool) -> dict[str, Any]:
        assert included.effects.transfer is not None
        sender, to, value = included.effects.transfer
        return {
            "transaction_id": included.tx.txid,
            "token_info": {
                "symbol": USDT_SYMBOL,
                "address": self.usdt_contract,
                "decimals": USDT_DECIMALS,
                "name": USDT_NAME,
            },
            "block_timestamp": block.timestamp,
            "from": sender,
            "to": to,
            "type": "Transfer",
            "value": str(value),
        }

    def _transfers(
        self, ascending: bool, only_block: int | None = None
    ) -> Iterator[tuple[tuple[int, int, int], Block, Included]]:
        if only_block is not None:  # a block's events without walking the whole chain
            block = self.block(only_block)
            blocks: Iterable[Block] = [block] if block is not None else []
        else:
            blocks = self.blocks if ascending else reversed(self.blocks)
        for block in blocks:
            indexed = list(enumerate(block.txs))
            for position, included in indexed if ascending else reversed(indexed):
                if included.effects.transfer is not None:
                    yield (block.number, position, 0), block, included

    def _event_json(self, block: Block, included: Included, *, unconfirmed: bool) -> dict[str, Any]:
        assert included.effects.transfer is not None
        sender, to, value = included.effects.transfer
        sender_hex = "0x" + crypto.to_raw(sender)[1:].hex()
        to_hex = "0x" + crypto.to_raw(to)[1:].hex()
        event: dict[str, Any] = {
            "block_number": block.number,
            "block_timestamp": block.timestamp,
            "caller_contract_address": self.usdt_contract,
            "contract_address": self.usdt_contract,
            "event_index": 0,
            "event_name": "Transfer",
            "result": {
                "0": sender_hex,
                "1": to_hex,
                "2": str(value),
                "from": sender_hex,
                "to": to_hex,
                "value": str(value),
            },
            "result_type": {"from": "address", "to": "address", "value": "uint256"},
            "event": TRANSFER_SIGNATURE,
            "transaction_id": included.tx.txid,
        }
        if unconfirmed:
            event["_unconfirmed"] = True
        return event


@dataclass(frozen=True)
class _CallOutcome:
    result: str
    energy: int
    output: str = ""
    transfer: tuple[str, str, int] | None = None
    approval: tuple[str, str, int] | None = None
    spender: str | None = None  # transferFrom's caller, whose allowance the transfer spends


@functools.cache
def _selector(signature: str) -> str:
    return crypto.keccak256(signature.encode())[:4].hex()


def _address_word(value: int) -> str:
    """The base58 address in an ABI word (its low 20 bytes)."""
    return crypto.to_base58(bytes([crypto.ADDRESS_PREFIX]) + value.to_bytes(32)[-20:])


def abi_string(text: str) -> str:
    """A string as one ABI-encoded return value: offset, length, padded bytes."""
    data = text.encode()
    return word(32) + word(len(data)) + data.hex().ljust(-(-len(data) // 32) * 64, "0")


def owner_permission(address: str) -> dict[str, Any]:
    """The default owner permission java-tron gives an account (one key, threshold 1)."""
    return {
        "permission_name": "owner",
        "threshold": 1,
        "keys": [{"address": crypto.to_hex(address), "weight": 1}],
    }


def transaction_json(tx: Transaction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "visible": False,
        "txID": tx.txid,
        "raw_data": tx.raw_data,
        "raw_data_hex": tx.raw.hex(),
    }
    if tx.signatures:
        out["signature"] = [s.hex() for s in tx.signatures]
    return out


def _make_fingerprint(key: tuple[int, int, int]) -> str:
    return base64.urlsafe_b64encode(":".join(map(str, key)).encode()).decode().rstrip("=")


def _read_fingerprint(value: str) -> tuple[int, int, int]:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        a, b, c = (int(part) for part in text.split(":"))
    except ValueError as exc:
        raise DevnetError("invalid fingerprint") from exc
    return a, b, c
