"""The devnet's chain: accounts, blocks, transactions and their fees, with no HTTP in sight.

What it models, and how it differs from TRON:
- Accounts hold TRX in sun; the USDT contract (TRC-20, 6 decimals) keeps its balances in
  micro-units. Amounts are integers everywhere.
- A broadcast transaction is verified (txID, secp256k1 signature, TaPoS, expiration, replay),
  executed at once on the live state (as a TRON node applies it to its pending state) and
  included in the next block. Its info and events exist once it is in a block.
- Fees are burned at the prices of `ChainParams`: bandwidth (free allowance first), energy
  (delegated energy first), the activation fee of a new account. A TRC-20 transfer does not
  activate its recipient, as on TRON.
- Energy delegation (Stake 2.0's DelegateResourceContract) takes the delegated TRX from the
  owner's liquid balance (the devnet has no separate FreezeBalanceV2 step) and
  UnDelegateResourceContract gives it straight back (no unstaking wait).
- Blocks are solidified `solidify_depth` blocks behind the head. A reorg replaces unsolidified
  blocks: their transactions vanish, unless asked to be re-included.
- Everything is in memory: a restart starts a fresh chain from the same genesis.

The class is not thread-safe: the HTTP app serialises calls with one asyncio lock.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from paywarden.tron import crypto, proto

USDT_DECIMALS = 6
TRANSFER_TOPIC = crypto.keccak256(b"Transfer(address,address,uint256)").hex()
TRANSFER_SIGNATURE = "Transfer(address indexed from, address indexed to, uint256 value)"
SELECTOR_TRANSFER = "a9059cbb"  # transfer(address,uint256)
SELECTOR_BALANCE_OF = "70a08231"  # balanceOf(address)
SUN_PER_TRX = 1_000_000
MAX_RESULT_SIZE_IN_TX = 64  # java-tron adds this to every transaction's bandwidth
MAX_EXPIRATION_MS = 86_400_000
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
    balance_of_energy: int = 935
    window_ms: int = 86_400_000  # energy and free bandwidth recover linearly over a day

    def chain_parameters(self) -> list[dict[str, int | str]]:
        """java-tron's /wallet/getchainparameters list (it omits a value of 0)."""
        pairs = [
            ("getMaintenanceTimeInterval", 21_600_000),
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
    is_contract: bool = False


@dataclass
class State:
    accounts: dict[str, Account] = field(default_factory=dict)
    usdt: dict[str, int] = field(default_factory=dict)  # holder (base58) -> micro-USDT

    def copy(self) -> State:
        # Taken after every block: a deep copy only of what is mutable (balances are ints).
        return State(
            accounts={
                address: dataclasses.replace(
                    account,
                    energy_delegated_out=dict(account.energy_delegated_out),
                    energy_delegated_in=dict(account.energy_delegated_in),
                )
                for address, account in self.accounts.items()
            },
            usdt=dict(self.usdt),
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
        return sum(account.energy_delegated_in.values()) // SUN_PER_TRX * self.params.energy_per_trx

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
        txid = crypto.sha256(raw).hex()
        if body.get("txID") is not None and str(body["txID"]).lower() != txid:
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
        if expiration <= self.head.timestamp:
            raise Rejected("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
        if expiration > self.head.timestamp + MAX_EXPIRATION_MS:
            raise Rejected(
                "TRANSACTION_EXPIRATION_ERROR", "expiration is more than 24 hours after the head"
            )
        effects = self._execute(tx, self.now_ms())
        self.pending.append(Included(tx, effects))
        self._txids[tx.txid] = None

    def _execute(self, tx: Transaction, now: int) -> Effects:
        """Validate everything first, then change the state (so a refusal changes nothing)."""
        handlers = {
            "TransferContract": self._transfer_trx,
            "TriggerSmartContract": self._trigger,
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
        """Free bandwidth if it covers the transaction, else burn; checks that `spare` sun pays."""
        size = tx.bandwidth()
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
            result, burn = "OUT_OF_ENERGY", budget - budget % self.params.energy_fee
        if from_stake:
            owner.energy_used = (
                recovered(owner.energy_used, owner.energy_time, now, self.params.window_ms)
                + from_stake
            )
            owner.energy_time = now
            receipt["energy_usage"] = from_stake
        owner.balance -= burn
        if burn:
            receipt["energy_fee"] = burn
        receipt["energy_usage_total"] = energy
        receipt["result"] = result
        effects = Effects(
            result=result,
            fee=burn + int(net.get("net_fee", 0)),
            receipt=receipt,
            contract_result=outcome.output if result == "SUCCESS" else "",
        )
        if result == "SUCCESS" and outcome.transfer:
            sender, to, amount = outcome.transfer
            self.state.usdt[sender] -= amount
            self.state.usdt[to] = self.state.usdt.get(to, 0) + amount
            effects.transfer = outcome.transfer
        return effects

    def _run_usdt(self, caller: str, data: str, call_value: int) -> _CallOutcome:
        """USDT's behaviour for a call, without changing anything."""
        data = data.lower()
        selector, args = data[:8], data[8:]
        reverted = _CallOutcome("REVERT", self.params.usdt_revert_energy)
        if call_value:
            return reverted  # USDT's functions are not payable
        try:
            words = [int(args[i : i + 64], 16) for i in range(0, len(args), 64)]
        except ValueError:
            return reverted
        if selector == SELECTOR_BALANCE_OF and len(args) == 64:
            holder = crypto.to_base58(bytes([crypto.ADDRESS_PREFIX]) + words[0].to_bytes(32)[-20:])
            balance = self.state.usdt.get(holder, 0)
            return _CallOutcome("SUCCESS", self.params.balance_of_energy, word(balance))
        if selector == SELECTOR_TRANSFER and len(args) == 128:
            if words[0] >> 160:
                return reverted
            to = crypto.to_base58(bytes([crypto.ADDRESS_PREFIX]) + words[0].to_bytes(20))
            amount = words[1]
            if amount > self.state.usdt.get(caller, 0):
                return reverted
            energy = (
                self.params.usdt_transfer_energy
                if self.state.usdt.get(to, 0)
                else self.params.usdt_transfer_energy_new_holder
            )
            return _CallOutcome("SUCCESS", energy, word(1), (caller, to, amount))
        return reverted

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
        if owner.balance < balance:
            raise Rejected(
                "CONTRACT_VALIDATE_ERROR",
                "delegateBalance must be less than or equal to available FreezeEnergyV2 balance",
            )
        net = self._bandwidth(tx, owner, now, owner.balance - balance)
        owner.balance -= balance
        out, into = owner.energy_delegated_out, receiver.energy_delegated_in
        out[receiver.address] = out.get(receiver.address, 0) + balance
        into[owner.address] = into.get(owner.address, 0) + balance
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

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
        for book, key in (
            (owner.energy_delegated_out, receiver.address),
            (receiver.energy_delegated_in, owner.address),
        ):
            book[key] -= balance
            if not book[key]:
                del book[key]
        owner.balance += balance
        return Effects(fee=int(net.get("net_fee", 0)), receipt=dict(net))

    # --- building (the /wallet/create... endpoints) ---

    def build(
        self, contract_type: str, value: dict[str, Any], *, fee_limit: int | None = None
    ) -> dict[str, Any]:
        """An unsigned transaction referencing the head block, as java-tron returns it."""
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
        tx = Transaction(crypto.sha256(raw).hex(), raw, proto.decode_raw(raw), [])
        self._dry_run(tx)
        return transaction_json(tx)

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
        only_confirmed: bool = False,
        only_unconfirmed: bool = False,
        min_timestamp: int | None = None,
        max_timestamp: int | None = None,
        ascending: bool = False,
        limit: int = 20,
        fingerprint: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of Transfer events in TronGrid's shape, and the fingerprint of the next."""
        if crypto.normalize(contract) != self.usdt_contract or event_name not in (None, "Transfer"):
            return [], None
        after = _read_fingerprint(fingerprint) if fingerprint else None
        solid = self.solidified.number
        page: list[dict[str, Any]] = []
        last_key: tuple[int, int, int] | None = None
        for key, block, included in self._transfers(ascending, block_number):
            if after is not None and (key <= after if ascending else key >= after):
                continue
            if block_number is not None and block.number != block_number:
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
            page.append(self._event_json(block, included, unconfirmed=block.number > solid))
            last_key = key
        return page, None

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
