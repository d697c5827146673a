"""Scanner rules: which blocks to read, what a transfer means, when it is final, and reorgs.

A pass reads the head and the solidified block, then the transaction infos of each block after
the cursor (at most `batch_blocks` of them, one call per block) and keeps their USDT Transfer
logs: API calls grow with blocks, never with open orders nor with transfers per block.
Transfers to our deposit addresses are stored once per (tx_hash, event_index) as `seen`, become
`final` at or below the solidified block, and `dropped` if a reorg removed them.

Reorgs: while the cursor is above the solidified block its block id is kept. Each pass first
checks that block (from the head's own id or parent hash when the cursor is at or just below
the head, else by asking for it); a different id means the chain below the head was replaced,
so the cursor goes back to the last block known solidified and those blocks are read again.
`seen` transfers of re-read blocks that are no longer there are dropped (and come back to
`seen` should they reappear). Since block ids chain, an unchanged cursor block proves every
block below it unchanged, which is what lets a `seen` transfer become `final`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import base58
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.chain import repository as repo
from paywarden.chain.config import ScannerConfig
from paywarden.kit.logging import get_logger
from paywarden.kit.money import format_usdt
from paywarden.kit.time import utcnow
from paywarden.models import ChainTransfer, DepositAddress, Incident, Order, ScannerState
from paywarden.models.addresses import ALLOCATED
from paywarden.models.chain import DROPPED, FINAL, SEEN
from paywarden.orders import service as orders
from paywarden.orders.batch import TransitionBatch
from paywarden.tron.client import Block, TronGridClient

if TYPE_CHECKING:  # the process's settings: only read here
    from paywarden.context import GatewayContext

log = get_logger(__name__)

ORPHAN_PAYMENT = "orphan_payment"  # a transfer to a deposit address no order holds
ADDRESS_PREFIX = 0x41
# keccak256("Transfer(address,address,uint256)"): topic 0 of every ERC-20/TRC-20 Transfer log.
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@dataclass(frozen=True)
class Transfer:
    """One USDT Transfer event, addresses in base58."""

    tx_hash: str
    event_index: int
    block_number: int
    block_timestamp: int  # ms
    from_address: str
    to_address: str
    amount: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.tx_hash, self.event_index)


@dataclass(frozen=True)
class Plan:
    """The cursor as the pass found it (the write checks that nobody moved it meanwhile)."""

    exists: bool
    cursor: int
    cursor_block_id: str | None
    known_solid: int


@dataclass
class Fetched:
    head: int
    solid: int
    start: int  # the cursor this pass scans from (lower than the plan's after a reorg)
    end: int  # the new cursor
    end_block_id: str | None
    transfers: list[Transfer] = field(default_factory=list)
    reorg: bool = False
    stalled: bool = False  # the chain is behind the cursor: nothing to do but wait
    idle: bool = False  # the head is the cursor block: no new block, nothing else to ask
    head_timestamp: int | None = None

    @property
    def blocks(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class PassResult:
    blocks: int
    stored: int
    finalized: int
    dropped: int
    # Where the chain stood: whether the cursor reached the head, and the head's time (ms),
    # which tells the worker when the next block is due.
    caught_up: bool = field(default=True, compare=False)
    head_timestamp: int | None = field(default=None, compare=False)

    @property
    def work(self) -> int:
        return self.blocks + self.stored + self.finalized + self.dropped


def base58_address(value: str) -> str:
    """TronGrid's event address ("0x" + 20 bytes hex, or "41..." hex) as base58check."""
    if value.startswith("T"):
        return value
    hex_part = value[2:] if value.startswith("0x") else value
    raw = bytes.fromhex(hex_part)
    if len(raw) == 20:
        raw = bytes([ADDRESS_PREFIX]) + raw
    return base58.b58encode_check(raw).decode()


async def plan(session: AsyncSession, cfg: ScannerConfig) -> Plan:
    row = await repo.state(session, cfg.key)
    if row is None:
        return Plan(exists=False, cursor=-1, cursor_block_id=None, known_solid=-1)
    return Plan(True, row.last_block, row.last_block_id, row.solidified_block)


def parse_info(info: dict, contract_hex: str) -> list[Transfer]:
    """The USDT Transfer logs of one TransactionInfo (a failed transaction has none).

    `contract_hex` is the token's 20-byte address in hex; `event_index` is the log's position in
    the transaction, as TronGrid's event API numbers it.
    """
    out: list[Transfer] = []
    for index, entry in enumerate(info.get("log") or ()):
        topics = entry.get("topics") or ()
        if len(topics) != 3 or topics[0] != TRANSFER_TOPIC:
            continue
        if str(entry.get("address", ""))[-40:].lower() != contract_hex:
            continue
        try:
            out.append(
                Transfer(
                    tx_hash=str(info["id"]),
                    event_index=index,
                    block_number=int(info["blockNumber"]),
                    block_timestamp=int(info["blockTimeStamp"]),
                    from_address=base58_address(str(topics[1])[-40:]),
                    to_address=base58_address(str(topics[2])[-40:]),
                    amount=int(str(entry.get("data") or "0"), 16),
                )
            )
        except (KeyError, ValueError):
            log.warning("scanner_bad_log", tx_hash=info.get("id"), log=entry)
    return out


async def block_transfers(client: TronGridClient, contract: str, number: int) -> list[Transfer]:
    """Every USDT Transfer of block `number`: one call, however many transfers it holds."""
    contract_hex = base58.b58decode_check(contract)[1:].hex()
    out: list[Transfer] = []
    for info in await client.transaction_infos_by_block(number):
        if int(info.get("blockNumber", number)) == number:
            out.extend(parse_info(info, contract_hex))
    return out


def _cursor_known(head: Block, p: Plan) -> bool | None:
    """Whether the cursor block is still on the chain, when the head alone tells (saving a
    call on every pass at the tip); None when it takes a look at the cursor block."""
    if head.number == p.cursor:
        return head.block_id == p.cursor_block_id
    if head.number == p.cursor + 1:
        return head.parent_hash == p.cursor_block_id
    return None


async def fetch(client: TronGridClient, cfg: ScannerConfig, p: Plan) -> Fetched:
    """Everything this pass reads from TronGrid (no database here)."""
    head = await client.now_block()
    if p.exists and p.cursor_block_id is not None and head.block_id == p.cursor_block_id:
        # Nothing new since the last pass; the solidified block moves only with new blocks.
        return Fetched(
            head.number,
            p.known_solid,
            p.cursor,
            p.cursor,
            p.cursor_block_id,
            idle=True,
            head_timestamp=head.timestamp,
        )
    solid = min((await client.solidified_block()).number, head.number)
    cursor, reorg = p.cursor, False
    if not p.exists:
        first = (
            cfg.start_block
            if cfg.start_block is not None
            else max(0, head.number - cfg.lookback_blocks)
        )
        cursor = first - 1
    elif p.cursor_block_id is not None:
        known = _cursor_known(head, p)
        if known is None:
            at_cursor = await client.block_by_num(p.cursor)
            known = at_cursor is not None and at_cursor.block_id == p.cursor_block_id
        if not known:
            cursor, reorg = min(p.cursor, p.known_solid), True
            log.warning("scanner_reorg", block=p.cursor, rescan_from=cursor + 1)
    if cursor > head.number:
        if cfg.network.name != "devnet":
            log.error("scanner_ahead_of_chain", cursor=cursor, head=head.number)
            return Fetched(head.number, solid, cursor, cursor, p.cursor_block_id, stalled=True)
        # The devnet keeps its chain in memory: after a restart it starts again at block 0.
        log.warning("scanner_devnet_restarted", cursor=cursor, head=head.number)
        cursor, reorg = -1, True
    end = min(head.number, cursor + cfg.batch_blocks)
    end_block_id: str | None = None
    if end > solid:  # read before the events, so a reorg in between shows at the next pass
        if end == head.number:
            end_block_id = head.block_id
        else:
            block = await client.block_by_num(end)
            end_block_id = block.block_id if block else None
    fetched = Fetched(
        head.number, solid, cursor, end, end_block_id, reorg=reorg, head_timestamp=head.timestamp
    )
    for number in range(cursor + 1, end + 1):
        fetched.transfers.extend(await block_transfers(client, cfg.contract, number))
    return fetched


def _unchanged(row: ScannerState | None, p: Plan) -> bool:
    if row is None:
        return not p.exists
    return p.exists and row.last_block == p.cursor and row.last_block_id == p.cursor_block_id


async def apply(
    session: AsyncSession,
    cfg: ScannerConfig,
    gateway: GatewayContext,
    p: Plan,
    f: Fetched,
) -> PassResult | None:
    """Store what the pass read and move the cursor, in the caller's transaction.

    None when another scanner moved the cursor since `plan` (nothing is written).
    """
    row = await repo.state(session, cfg.key, lock=True)
    if not _unchanged(row, p):
        return None
    if f.idle:
        return PassResult(0, 0, 0, 0, head_timestamp=f.head_timestamp)
    if f.stalled:
        if row is not None:
            row.head_block, row.updated_at = f.head, utcnow()
        return PassResult(0, 0, 0, 0)
    base_url = gateway.public_base_url
    now = utcnow()
    # The pass's rollup, published events and sweep writes, made together before the cursor moves.
    batch = TransitionBatch()
    ours = await repo.addresses(session, {t.to_address for t in f.transfers})
    mine = [(t, ours[t.to_address]) for t in f.transfers if t.to_address in ours]
    work = _PassWork(session, await repo.by_keys(session, [t.key for t, _ in mine]), batch)
    await work.lock_orders(
        [a.order_id for _, a in mine if a.status == ALLOCATED]
        + [x.order_id for x in work.known.values()]
    )
    present = {t.key for t, _ in mine}
    stored = 0
    for t, address in mine:
        stored += await _store(work, gateway, t, address, now)
    low = f.start + 1
    dropped = 0
    gone = [
        x
        for x in (await repo.seen_between(session, low, f.end) if f.end >= low else [])
        if x.key not in present
    ]
    await work.lock_orders([x.order_id for x in gone])
    for transfer in gone:
        transfer.status = DROPPED
        dropped += 1
        order = work.order_of(transfer)
        if order is not None:
            sums = await repo.order_sums(session, order.id)
            await orders.payment_dropped(
                session, order, transfer, sums, base_url=base_url, batch=batch
            )
        log.warning("transfer_dropped", tx_hash=transfer.tx_hash, block=transfer.block_number)
    finalized = 0
    ripe = await repo.seen_between(session, 0, min(f.solid, f.end))
    await work.lock_orders([x.order_id for x in ripe])
    # Each order's (final, seen) sums, read once and then kept as its transfers turn final.
    sums_of = await repo.orders_sums(session, {x.order_id for x in ripe if x.order_id})
    for transfer in ripe:
        transfer.status = FINAL
        transfer.finalized_at = now
        finalized += 1
        order = work.order_of(transfer)
        if order is not None:
            final, seen = sums_of.get(order.id, (0, 0))
            sums = sums_of[order.id] = (final + transfer.amount, seen - transfer.amount)
            await orders.payment_final(
                session,
                order,
                transfer,
                sums,
                tolerance=gateway.underpay_tolerance,
                base_url=base_url,
                batch=batch,
            )
    await batch.flush(session)
    if row is None:
        row = ScannerState(key=cfg.key)
        session.add(row)
    row.last_block = f.end
    row.last_block_id = f.end_block_id
    row.solidified_block = min(f.solid, f.end) if f.end >= 0 else -1
    row.head_block = f.head
    row.updated_at = now
    return PassResult(
        f.blocks,
        stored,
        finalized,
        dropped,
        caught_up=f.end >= f.head,
        head_timestamp=f.head_timestamp,
    )


class _PassWork:
    """What one pass has loaded: its transfers already stored, and the orders it locked (each
    once, in one query per step, in id order so two transactions never wait on each other)."""

    def __init__(
        self,
        session: AsyncSession,
        known: dict[tuple[str, int], ChainTransfer],
        batch: TransitionBatch,
    ) -> None:
        self.session = session
        self.known = known
        self.batch = batch
        self.orders: dict[uuid.UUID, Order] = {}

    async def lock_orders(self, ids: Iterable[uuid.UUID | None]) -> None:
        wanted = {i for i in ids if i is not None and i not in self.orders}
        self.orders.update(await repo.lock_orders(self.session, wanted))

    def order_of(self, transfer: ChainTransfer) -> Order | None:
        return self.orders.get(transfer.order_id) if transfer.order_id else None


async def _store(
    work: _PassWork,
    gateway: GatewayContext,
    t: Transfer,
    address: DepositAddress,
    now: datetime,
) -> int:
    """Add a transfer unless stored (a repeat is a no-op) and tell its order; 1 if it is new
    (or back on the chain after a reorg)."""
    session = work.session
    order_id = address.order_id if address.status == ALLOCATED else None
    block_time = datetime.fromtimestamp(t.block_timestamp / 1000, tz=UTC)
    transfer = work.known.get(t.key)
    inserted = transfer is None
    if transfer is None:
        # One leader writes (advisory lock / SQLite's single writer) and the plan check above
        # refuses a moved cursor; the unique key still stops a double credit if all else failed.
        transfer = ChainTransfer(
            id=uuid.uuid4(),
            tx_hash=t.tx_hash,
            event_index=t.event_index,
            block_number=t.block_number,
            block_timestamp=block_time,
            from_address=t.from_address,
            to_address=t.to_address,
            amount=t.amount,
            order_id=order_id,
            deposit_address_id=address.id,
            status=SEEN,
            created_at=now,
            finalized_at=None,
        )
        session.add(transfer)
        work.known[t.key] = transfer
    if not inserted:
        if transfer.status == SEEN and transfer.block_number != t.block_number:
            transfer.block_number, transfer.block_timestamp = t.block_number, block_time
        if transfer.status != DROPPED:
            return 0
        # Back on the chain (re-included after a reorg): seen again, perhaps in another block.
        transfer.status = SEEN
        transfer.block_number, transfer.block_timestamp = t.block_number, block_time
    order = work.order_of(transfer)
    if order is not None:
        await orders.payment_seen(
            session, order, transfer, base_url=gateway.public_base_url, batch=work.batch
        )
    elif inserted:
        session.add(
            Incident(
                event_type=ORPHAN_PAYMENT,
                payload={
                    "tx_hash": t.tx_hash,
                    "event_index": t.event_index,
                    "amount": format_usdt(t.amount),
                    "address": t.to_address,
                    "from": t.from_address,
                    "block_number": t.block_number,
                },
            )
        )
    log.info("transfer_seen", tx_hash=t.tx_hash, amount=t.amount, order_id=str(order_id))
    return 1
