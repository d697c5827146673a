"""The sweeper: runs sweep jobs step by step in the worker, resumable after a crash at any point.

A pass claims due jobs (SKIP LOCKED on PostgreSQL) with a lease, then moves each one forward
until it has to wait for the chain. Every step's outcome is committed before the next step
starts, and every write checks the lease, so a worker that lost its job (it stalled past the
lease and another took over) stops at its next write.

Steps (see `models/sweeps.py`): `check` reads the USDT balance, estimates the transfer's energy
(triggerconstantcontract) and the prices (getchainparameters) and plans; `fund` sends the TRX
it lacks (burn: energy and bandwidth and a small margin; delegate: only what activation or
bandwidth needs); `delegate` lends the hot wallet's energy; `transfer` sends the whole balance
to the cold wallet; `reclaim` takes the energy back; each `*_wait` waits for the solidified
receipt; `settle` records the settlement and lets the address go back to the pool.

Sending is `sign -> store txid and signed JSON -> broadcast`. On resume, a stored txid is looked
up on chain first and rebroadcast as is (DUP_TRANSACTION_ERROR: it was already sent); a new
transaction replaces it only when the stored one has expired without reaching the chain. So no
transfer or funding is ever sent twice.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from paywarden.addresses import service as addresses
from paywarden.addresses.service import Pool
from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.money import format_trx, format_usdt
from paywarden.kit.time import iso, utcnow
from paywarden.models import DepositAddress, Incident, Order, OrderEvent, Sweep
from paywarden.models.addresses import ALLOCATED
from paywarden.models.incidents import SWEEP_FAILED
from paywarden.models.sweeps import (
    CHECK,
    DELEGATE,
    DELEGATE_WAIT,
    FUND,
    FUND_WAIT,
    RECLAIM,
    RECLAIM_WAIT,
    S_ACTIVE,
    S_DONE,
    S_FAILED,
    S_WAITING,
    SETTLE,
    TRANSFER,
    TRANSFER_WAIT,
)
from paywarden.sweeps import repository as repo
from paywarden.sweeps import service
from paywarden.sweeps.keys import SweepKeys, UnexpectedTransaction
from paywarden.tron import crypto, proto
from paywarden.tron.client import TronGridClient, TronGridError

log = get_logger(__name__)

TRANSFER_FUNCTION = "transfer(address,uint256)"
BALANCE_OF_FUNCTION = "balanceOf(address)"
TRANSFER_SELECTOR = "a9059cbb"
SUN_PER_TRX = 1_000_000
# Bandwidth of a signed USDT transfer (about 345 bytes with java-tron's 64 result bytes).
TRANSFER_BYTES = 350
LEASE = timedelta(seconds=60)
# A balance under SWEEP_MIN_AMOUNT is read again after this long (it waits and accumulates).
RECHECK = timedelta(minutes=10)
MAX_ATTEMPTS = 5  # transient errors (TronGrid down) in one step before the job fails
CONCURRENCY = 20
BATCH = 100
# Which step an operator sees in an incident, and where a failed on-chain step starts again.
STEP_NAMES = {
    CHECK: "check",
    FUND: "fund",
    FUND_WAIT: "fund",
    DELEGATE: "delegate",
    DELEGATE_WAIT: "delegate",
    TRANSFER: "transfer",
    TRANSFER_WAIT: "transfer",
    RECLAIM: "reclaim",
    RECLAIM_WAIT: "reclaim",
    SETTLE: "settle",
}


@dataclass(frozen=True)
class SweepConfig:
    enabled: bool
    mode: str  # burn | delegate
    cold_wallet: str | None
    min_amount: int  # micro-USDT
    alert_trx: int
    usdt_contract: str
    pool: Pool
    poll_seconds: float = 1.0  # how soon a job waiting for the chain looks again


class SweepFailed(Exception):
    """A step that cannot succeed as things are: the job fails (an operator may retry)."""

    def __init__(self, reason: str, *, resume: str | None = None, **updates: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resume = resume  # the step a retry starts at (default: the failing one)
        self.updates = updates  # written with the failure (e.g. the fee a failed tx burned)


class LeaseLost(Exception):
    """Another worker holds the job now: stop touching it."""


@dataclass
class Wait:
    seconds: float


@dataclass
class Job:
    """A claimed sweep: its row (a detached copy) and the lease every write must present."""

    sweep: Sweep
    lease: uuid.UUID
    derivation_index: int
    db: Database
    on_saved: Callable[[Sweep], Awaitable[None]] | None = field(default=None, repr=False)

    async def save(self, **values: Any) -> None:
        async with self.db.transaction() as session:
            row = await repo.held(session, self.sweep.id, self.lease)
            if row is None:
                raise LeaseLost()
            for name, value in values.items():
                setattr(row, name, value)
            self.sweep = row
        if self.on_saved is not None:
            await self.on_saved(self.sweep)


class Sweeper:
    """The worker's sweeper: keys, settings and a TronGrid client."""

    def __init__(
        self,
        keys: SweepKeys,
        cfg: SweepConfig,
        *,
        # Test seam: awaited after each committed step (a test raises here to "kill" the worker).
        on_saved: Callable[[Sweep], Awaitable[None]] | None = None,
    ) -> None:
        self.keys = keys
        self.cfg = cfg
        self.on_saved = on_saved
        self._registered = False

    # --- the loop ---

    async def run_pass(self, db: Database, client: TronGridClient, *, limit: int = BATCH) -> int:
        """Register the hot wallet (first pass), refresh its balance when stale, then move due
        jobs forward; how many jobs were worked on."""
        if not self._registered:
            async with db.transaction() as session:
                await service.register_hot_wallet(session, self.keys.hot_address)
            self._registered = True
        done = 0
        if self.cfg.enabled and self.cfg.cold_wallet:
            now = utcnow()
            async with db.transaction() as session:
                claims = await repo.claim_due(session, now, now + LEASE, limit)
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(sweep_id: uuid.UUID, lease: uuid.UUID) -> None:
                async with gate:
                    await self.advance(db, client, sweep_id, lease)

            await asyncio.gather(*(one(s, lease) for s, lease in claims))
            done = len(claims)
        await self.refresh_hot_wallet(db, client)
        return done

    async def refresh_hot_wallet(self, db: Database, client: TronGridClient) -> None:
        async with db.transaction() as session:
            row = await repo.hot_wallet(session)
            stale = row is not None and row.address == self.keys.hot_address
            stale = stale and row is not None and service.is_stale(row)
        if not stale:
            return
        try:
            balance = await client.trx_balance(self.keys.hot_address)
        except TronGridError as exc:
            log.warning("hot_wallet_balance_unavailable", error=str(exc)[:200])
            return
        async with db.transaction() as session:
            await service.record_balance(
                session, self.keys.hot_address, balance, self.cfg.alert_trx
            )

    # --- one job ---

    async def advance(
        self, db: Database, client: TronGridClient, sweep_id: uuid.UUID, lease: uuid.UUID
    ) -> None:
        async with db.transaction() as session:
            row = await repo.held(session, sweep_id, lease)
            if row is None:
                return
            index = await repo.derivation_index(session, row.address_id)
        job = Job(row, lease, index, db, self.on_saved)
        run = _Run(self, client, job)
        try:
            await run.forward()
        except LeaseLost:
            log.warning("sweep_lease_lost", sweep_id=str(sweep_id))


class _Run:
    def __init__(self, sweeper: Sweeper, client: TronGridClient, job: Job) -> None:
        self.cfg = sweeper.cfg
        self.keys = sweeper.keys
        self.client = client
        self.job = job

    @property
    def s(self) -> Sweep:
        return self.job.sweep

    async def forward(self) -> None:
        handlers: dict[str, Callable[[], Awaitable[Wait | None]]] = {
            CHECK: self.check,
            FUND: self.fund,
            FUND_WAIT: self.fund_wait,
            DELEGATE: self.delegate,
            DELEGATE_WAIT: self.delegate_wait,
            TRANSFER: self.transfer,
            TRANSFER_WAIT: self.transfer_wait,
            RECLAIM: self.reclaim,
            RECLAIM_WAIT: self.reclaim_wait,
            SETTLE: self.settle,
        }
        while self.s.status == S_ACTIVE:
            step = self.s.step
            try:
                outcome = await handlers[step]()
            except LeaseLost:
                raise
            except SweepFailed as exc:
                await self.fail(step, exc.reason, exc.resume or step, exc.updates)
                return
            except UnexpectedTransaction as exc:
                await self.fail(step, f"refused to sign: {exc}", step, {})
                return
            except TronGridError as exc:
                if _transient(exc) and self.s.attempts + 1 < MAX_ATTEMPTS:
                    delay = min(60, 2 ** (self.s.attempts + 1))
                    await self.job.save(
                        attempts=self.s.attempts + 1,
                        last_error=str(exc)[:500],
                        next_run_at=utcnow() + timedelta(seconds=delay),
                    )
                    return
                reason = f"{exc.code}: {exc.message}" if exc.code else str(exc)
                await self.fail(step, reason[:500], step, {})
                return
            if isinstance(outcome, Wait):
                await self.job.save(next_run_at=utcnow() + timedelta(seconds=outcome.seconds))
                return

    async def fail(self, step: str, reason: str, resume: str, updates: dict[str, Any]) -> None:
        name = STEP_NAMES[step]
        async with self.job.db.transaction() as session:
            row = await repo.held(session, self.s.id, self.job.lease)
            if row is None:
                raise LeaseLost()
            for key, value in updates.items():
                setattr(row, key, value)
            row.status = S_FAILED
            row.step = resume
            row.failed_step = name
            row.last_error = reason
            row.lease = None
            order = await session.get(Order, row.order_id)
            assert order is not None
            payload = {"reason": reason, "step": name}
            session.add(
                Incident(
                    event_type=SWEEP_FAILED,
                    payload=payload,
                    order_id=order.id,
                    merchant_id=order.merchant_id,
                )
            )
            session.add(
                OrderEvent(
                    order_id=order.id,
                    event_type="sweep_failed",
                    from_status=order.status,
                    to_status=order.status,
                    payload={**payload, "sweep_id": str(row.id)},
                )
            )
            self.job.sweep = row
        log.warning("sweep_failed", sweep_id=str(self.s.id), step=name, reason=reason)

    # --- check: what is there, what it costs ---

    async def check(self) -> Wait | None:
        cold = self.cfg.cold_wallet
        assert cold is not None
        address, usdt = self.s.address, self.cfg.usdt_contract
        balance = await _usdt_balance(self.client, usdt, address)
        if balance == 0:
            raise SweepFailed("the deposit address holds no USDT")
        if balance < self.cfg.min_amount:
            await self.job.save(
                status=S_WAITING, lease=None, attempts=0, next_run_at=utcnow() + RECHECK
            )
            return None
        estimate = await self.client.trigger_constant_contract(
            address, usdt, TRANSFER_FUNCTION, _transfer_args(cold, balance)
        )
        result = estimate.get("result") or {}
        if not result.get("result"):
            message = _text(result.get("message")) or str(result.get("code") or "refused")
            raise SweepFailed(f"the transfer would fail: {message}")
        energy = int(estimate.get("energy_used", 0)) + int(estimate.get("energy_penalty", 0))
        prices = await self.client.chain_parameters()
        energy_fee = prices.get("getEnergyFee", 0)
        byte_fee = prices.get("getTransactionFee", 0)
        account = await self.client.account(address)
        trx = int(account.get("balance", 0)) if account else 0
        resources = await self.client.account_resource(address) if account else {}
        if account:
            free_net = int(resources.get("freeNetLimit", 0)) - int(resources.get("freeNetUsed", 0))
        else:  # activation gives it the daily free allowance
            free_net = prices.get("getFreeNetLimit", 0)
        bandwidth_cost = 0 if free_net >= TRANSFER_BYTES else TRANSFER_BYTES * byte_fee
        energy_left = max(
            0, int(resources.get("EnergyLimit", 0)) - int(resources.get("EnergyUsed", 0))
        )
        missing_energy = max(0, energy - energy_left)
        mode = self.s.mode or self.cfg.mode
        delegate_sun = 0
        if mode == "burn":
            energy_cost = missing_energy * energy_fee
            need = energy_cost + bandwidth_cost
            margin = max(need // 100, SUN_PER_TRX // 10)
            fund = 0 if account and trx >= need else need + margin - trx
        else:
            if missing_energy:
                hot = await self.client.account_resource(self.keys.hot_address)
                limit = int(hot.get("TotalEnergyLimit", 0))
                weight = int(hot.get("TotalEnergyWeight", 0))
                if not limit or not weight:
                    raise SweepFailed("the network does not say how much energy a TRX buys")
                delegate_sun = (math.ceil(missing_energy * weight / limit) + 1) * SUN_PER_TRX
            need = bandwidth_cost
            if account and trx >= need:
                fund = 0
            else:
                fund = max(1, need + (SUN_PER_TRX // 10 if need else 0) - trx)
        fee_limit = energy * energy_fee + max(energy * energy_fee // 100, SUN_PER_TRX // 10)
        await self.job.save(
            mode=mode,
            amount=balance,
            energy=energy,
            fund_sun=fund,
            delegate_sun=delegate_sun,
            fee_limit=fee_limit,
            fund_txid=None,
            fund_tx=None,
            delegate_txid=None,
            delegate_tx=None,
            transfer_txid=None,
            transfer_tx=None,
            attempts=0,
            last_error=None,
            step=FUND if fund else (DELEGATE if delegate_sun else TRANSFER),
        )
        return None

    # --- sending and waiting, the same for every transaction ---

    async def _send(
        self, kind: str, build: Callable[[], Awaitable[dict[str, Any]]], wait_step: str
    ) -> None:
        txid_field, tx_field = f"{kind}_txid", f"{kind}_tx"
        stored: dict[str, Any] | None = getattr(self.s, tx_field)
        txid: str | None = getattr(self.s, txid_field)
        if txid and stored:
            # Resuming: the transaction may be on chain already, or in flight.
            if await self.client.transaction_info(txid, solidified=False) is not None:
                await self.job.save(step=wait_step, attempts=0)
                return
            try:
                await self.client.broadcast(stored)
            except TronGridError as exc:
                gone = exc.code in ("TRANSACTION_EXPIRATION_ERROR", "TAPOS_ERROR")
                if exc.code == "DUP_TRANSACTION_ERROR":
                    pass
                elif gone and await self._expired(stored):
                    # It can never be included now: a new one replaces it.
                    await self.job.save(**{txid_field: None, tx_field: None})
                    txid = None
                else:
                    raise
            if txid:
                await self.job.save(step=wait_step, attempts=0)
                return
        signed = await build()
        # Stored (committed) before it leaves: a crash after this point resumes with it.
        await self.job.save(**{txid_field: signed["txID"], tx_field: signed})
        try:
            await self.client.broadcast(signed)
        except TronGridError as exc:
            if exc.code != "DUP_TRANSACTION_ERROR":
                raise
        await self.job.save(step=wait_step, attempts=0)

    async def _expired(self, tx: dict[str, Any]) -> bool:
        """Past its expiration at the head block (so no block can take it any more)."""
        raw = proto.decode_raw(bytes.fromhex(str(tx["raw_data_hex"])))
        head = await self.client.now_block()
        return int(raw.get("expiration", 0)) < head.timestamp

    async def _receipt(
        self, kind: str, send_step: str, *, contract_call: bool
    ) -> tuple[int, dict[str, Any]] | Wait | None:
        """The solidified info of the stored transaction: (fee in sun, info), Wait, or None
        when it went back to its send step.

        Raises SweepFailed (resuming at `check`) when it failed on chain; a transaction that
        expired without reaching the chain goes back to its send step."""
        txid: str = getattr(self.s, f"{kind}_txid")
        info = await self.client.transaction_info(txid, solidified=True)
        if info is None:
            pending = await self.client.transaction_info(txid, solidified=False)
            if pending is None and await self._expired(getattr(self.s, f"{kind}_tx")):
                await self.job.save(step=send_step, **{f"{kind}_txid": None, f"{kind}_tx": None})
                return None
            return Wait(self.cfg.poll_seconds)
        fee = int(info.get("fee", 0))
        receipt = info.get("receipt") or {}
        failed = info.get("result") == "FAILED"
        if contract_call:
            failed = failed or receipt.get("result") != "SUCCESS"
        if failed:
            why = _text(info.get("resMessage")) or str(receipt.get("result") or "FAILED")
            raise SweepFailed(
                f"{kind} transaction {txid} failed on chain: {why}",
                resume=CHECK,
                fee_sun=self.s.fee_sun + fee,
            )
        return fee, info

    async def fund(self) -> None:
        amount = int(self.s.fund_sun or 0)

        async def build() -> dict[str, Any]:
            tx = await self.client.create_transaction(self.keys.hot_address, self.s.address, amount)
            return self.keys.sign_hot(
                tx, "TransferContract", to_address=self.s.address, amount=amount
            )

        await self._send("fund", build, FUND_WAIT)

    async def fund_wait(self) -> Wait | None:
        got = await self._receipt("fund", FUND, contract_call=False)
        if got is None or isinstance(got, Wait):
            return got
        fee, _ = got
        await self.job.save(
            fee_sun=self.s.fee_sun + fee,
            funded_sun=self.s.funded_sun + int(self.s.fund_sun or 0),
            step=DELEGATE if self.s.delegate_sun else TRANSFER,
        )
        return None

    async def delegate(self) -> None:
        amount = int(self.s.delegate_sun or 0)

        async def build() -> dict[str, Any]:
            tx = await self.client.delegate_resource(
                self.keys.hot_address, self.s.address, amount, resource="ENERGY"
            )
            return self.keys.sign_hot(
                tx,
                "DelegateResourceContract",
                receiver_address=self.s.address,
                balance=amount,
                resource="ENERGY",
            )

        await self._send("delegate", build, DELEGATE_WAIT)

    async def delegate_wait(self) -> Wait | None:
        got = await self._receipt("delegate", DELEGATE, contract_call=False)
        if got is None or isinstance(got, Wait):
            return got
        fee, _ = got
        await self.job.save(
            fee_sun=self.s.fee_sun + fee,
            delegated_sun=self.s.delegated_sun + int(self.s.delegate_sun or 0),
            step=TRANSFER,
        )
        return None

    async def transfer(self) -> None:
        cold, usdt = self.cfg.cold_wallet, self.cfg.usdt_contract
        assert cold is not None
        assert self.s.amount is not None
        args = _transfer_args(cold, self.s.amount)
        fee_limit = int(self.s.fee_limit or 0)

        async def build() -> dict[str, Any]:
            tx = await self.client.trigger_smart_contract(
                self.s.address, usdt, TRANSFER_FUNCTION, args, fee_limit=fee_limit
            )
            return self.keys.sign_deposit(
                tx,
                self.job.derivation_index,
                self.s.address,
                "TriggerSmartContract",
                contract_address=usdt,
                data=TRANSFER_SELECTOR + args,
                fee_limit=fee_limit,
            )

        await self._send("transfer", build, TRANSFER_WAIT)

    async def transfer_wait(self) -> Wait | None:
        got = await self._receipt("transfer", TRANSFER, contract_call=True)
        if got is None or isinstance(got, Wait):
            return got
        fee, _ = got
        await self.job.save(
            fee_sun=self.s.fee_sun + fee, step=RECLAIM if self.s.delegated_sun else SETTLE
        )
        return None

    async def reclaim(self) -> None:
        amount = self.s.delegated_sun

        async def build() -> dict[str, Any]:
            tx = await self.client.undelegate_resource(
                self.keys.hot_address, self.s.address, amount, resource="ENERGY"
            )
            return self.keys.sign_hot(
                tx,
                "UnDelegateResourceContract",
                receiver_address=self.s.address,
                balance=amount,
                resource="ENERGY",
            )

        await self._send("reclaim", build, RECLAIM_WAIT)

    async def reclaim_wait(self) -> Wait | None:
        got = await self._receipt("reclaim", RECLAIM, contract_call=False)
        if got is None or isinstance(got, Wait):
            return got
        fee, _ = got
        await self.job.save(fee_sun=self.s.fee_sun + fee, delegated_sun=0, step=SETTLE)
        return None

    async def settle(self) -> None:
        now = utcnow()
        async with self.job.db.transaction() as session:
            row = await repo.held(session, self.s.id, self.job.lease)
            if row is None:
                raise LeaseLost()
            settlement = {
                "tx_hash": row.transfer_txid,
                "amount": format_usdt(int(row.amount or 0)),
                "fee_trx": format_trx(row.fee_sun),
                "funding_tx_hash": row.fund_txid,
                "mode": row.mode,
                "swept_at": iso(now),
            }
            row.settlement = settlement
            row.status = S_DONE
            row.active_address = None
            row.lease = None
            row.finished_at = now
            row.last_error = None
            order = await session.get(Order, row.order_id)
            assert order is not None
            session.add(
                OrderEvent(
                    order_id=order.id,
                    event_type="swept",
                    from_status=order.status,
                    to_status=order.status,
                    payload={**settlement, "sweep_id": str(row.id)},
                )
            )
            held = await session.get(DepositAddress, row.address_id)
            if held is not None and held.status == ALLOCATED and held.order_id == order.id:
                await addresses.release_after_cooldown(
                    session, self.cfg.pool, row.address_id, order.id
                )
            self.job.sweep = row
        log.info(
            "swept",
            sweep_id=str(self.s.id),
            amount=self.s.amount,
            fee_sun=self.s.fee_sun,
            mode=self.s.mode,
        )


def _transient(exc: TronGridError) -> bool:
    """TronGrid unreachable or failing (not a refusal of what we asked)."""
    if exc.code is not None:
        return False
    return exc.status is None or exc.status == 429 or exc.status >= 500


def _transfer_args(to: str, amount: int) -> str:
    return f"{int.from_bytes(crypto.to_raw(to)[1:]):064x}{amount:064x}"


def _text(message: object) -> str:
    if not isinstance(message, str):
        return ""
    try:
        return bytes.fromhex(message).decode()
    except ValueError:
        return message


async def _usdt_balance(client: TronGridClient, contract: str, address: str) -> int:
    out = await client.trigger_constant_contract(
        address, contract, BALANCE_OF_FUNCTION, f"{int.from_bytes(crypto.to_raw(address)[1:]):064x}"
    )
    words = out.get("constant_result") or [""]
    if not (out.get("result") or {}).get("result") or not words[0]:
        raise TronGridError("balanceOf answered no result", status=200, body=out)
    return int(words[0][:64], 16)
