"""Scanner rules: which blocks to read, what a transfer means, when it is final, and reorgs.

A pass reads the head and the solidified block, then the USDT contract's Transfer events of each
block after the cursor (at most `batch_blocks` of them): API calls grow with blocks, never with
open orders. Transfers to our deposit addresses are stored once per (tx_hash, event_index) as
`seen`, become `final` at or below the solidified block, and `dropped` if a reorg removed them.

Reorgs: while the cursor is above the solidified block its block id is kept. Each pass first
asks for the block at the cursor; a different id means the chain below the head was replaced,
so the cursor goes back to the last block known solidified and those blocks are read again.
`seen` transfers of re-read blocks that are no longer there are dropped (and come back to
`seen` should they reappear). Since block ids chain, an unchanged cursor block proves every
block below it unchanged, which is what lets a `seen` transfer become `final`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
from paywarden.tron.client import TronGridClient

log = get_logger(__name__)

ORPHAN_PAYMENT = "orphan_payment"  # a transfer to a deposit address no order holds
ADDRESS_PREFIX = 0x41
EVENTS_PAGE = 200


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

    @property
    def blocks(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class PassResult:
    blocks: int
    stored: int
    finalized: int
    dropped: int

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


def parse_event(event: dict, contract: str) -> Transfer | None:
    if event.get("event_name") != "Transfer" or event.get("contract_address") != contract:
        return None
    result = event.get("result") or {}
    try:
        return Transfer(
            tx_hash=str(event["transaction_id"]),
            event_index=int(event.get("event_index", 0)),
            block_number=int(event["block_number"]),
            block_timestamp=int(event["block_timestamp"]),
            from_address=base58_address(str(result["from"])),
            to_address=base58_address(str(result["to"])),
            amount=int(result["value"]),
        )
    except (KeyError, ValueError):
        log.warning("scanner_bad_event", event=event)
        return None


async def plan(session: AsyncSession, cfg: ScannerConfig) -> Plan:
    row = await repo.state(session, cfg.key)
    if row is None:
        return Plan(exists=False, cursor=-1, cursor_block_id=None, known_solid=-1)
    return Plan(True, row.last_block, row.last_block_id, row.solidified_block)


async def block_transfers(client: TronGridClient, contract: str, number: int) -> list[Transfer]:
    """Every USDT Transfer of block `number`, following the fingerprint across pages."""
    out: list[Transfer] = []
    fingerprint: str | None = None
    while True:
        page = await client.transfer_events(
            contract,
            block_number=number,
            limit=EVENTS_PAGE,
            fingerprint=fingerprint,
            order_by="block_timestamp,asc",
        )
        for event in page.events:
            transfer = parse_event(event, contract)
            if transfer is not None and transfer.block_number == number:
                out.append(transfer)
        if not page.fingerprint or not page.events:
            return out
        fingerprint = page.fingerprint


async def fetch(client: TronGridClient, cfg: ScannerConfig, p: Plan) -> Fetched:
    """Everything this pass reads from TronGrid (no database here)."""
    head = await client.now_block()
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
        at_cursor = await client.block_by_num(p.cursor)
        if at_cursor is None or at_cursor.block_id != p.cursor_block_id:
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
    fetched = Fetched(head.number, solid, cursor, end, end_block_id, reorg=reorg)
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
    gateway: orders.GatewayContext,
    p: Plan,
    f: Fetched,
) -> PassResult | None:
    """Store what the pass read and move the cursor, in the caller's transaction.

    None when another scanner moved the cursor since `plan` (nothing is written).
    """
    row = await repo.state(session, cfg.key, lock=True)
    if not _unchanged(row, p):
        return None
    if f.stalled:
        if row is not None:
            row.head_block, row.updated_at = f.head, utcnow()
        return PassResult(0, 0, 0, 0)
    base_url = gateway.public_base_url
    now = utcnow()
    ours = await repo.addresses(session, {t.to_address for t in f.transfers})
    present: set[tuple[str, int]] = set()
    stored = 0
    for t in f.transfers:
        address = ours.get(t.to_address)
        if address is None:
            continue
        present.add(t.key)
        stored += await _store(session, gateway, t, address, now)
    low = f.start + 1
    dropped = 0
    for transfer in await repo.seen_between(session, low, f.end) if f.end >= low else []:
        if transfer.key not in present:
            transfer.status = DROPPED
            dropped += 1
            order = await _order_of(session, transfer)
            if order is not None:
                sums = await repo.order_sums(session, order.id)
                await orders.payment_dropped(session, order, transfer, sums, base_url=base_url)
            log.warning("transfer_dropped", tx_hash=transfer.tx_hash, block=transfer.block_number)
    finalized = 0
    for transfer in await repo.seen_between(session, 0, min(f.solid, f.end)):
        transfer.status = FINAL
        transfer.finalized_at = now
        finalized += 1
        order = await _order_of(session, transfer)
        if order is not None:
            sums = await repo.order_sums(session, order.id)
            await orders.payment_final(
                session,
                order,
                transfer,
                sums,
                tolerance=gateway.underpay_tolerance,
                base_url=base_url,
            )
    if row is None:
        row = ScannerState(key=cfg.key)
        session.add(row)
    row.last_block = f.end
    row.last_block_id = f.end_block_id
    row.solidified_block = min(f.solid, f.end) if f.end >= 0 else -1
    row.head_block = f.head
    row.updated_at = now
    return PassResult(f.blocks, stored, finalized, dropped)


async def _order_of(session: AsyncSession, transfer: ChainTransfer) -> Order | None:
    if transfer.order_id is None:
        return None
    return await session.get(Order, transfer.order_id, with_for_update=True)


async def _store(
    session: AsyncSession,
    gateway: orders.GatewayContext,
    t: Transfer,
    address: DepositAddress,
    now: datetime,
) -> int:
    """Insert a transfer if absent (a repeat is a no-op) and tell its order; 1 if it is new
    (or back on the chain after a reorg)."""
    order_id = address.order_id if address.status == ALLOCATED else None
    block_time = datetime.fromtimestamp(t.block_timestamp / 1000, tz=UTC)
    inserted = await repo.insert_if_absent(
        session,
        {
            "id": uuid.uuid4(),
            "tx_hash": t.tx_hash,
            "event_index": t.event_index,
            "block_number": t.block_number,
            "block_timestamp": block_time,
            "from_address": t.from_address,
            "to_address": t.to_address,
            "amount": t.amount,
            "order_id": order_id,
            "deposit_address_id": address.id,
            "status": SEEN,
            "created_at": now,
            "finalized_at": None,
        },
    )
    transfer = await repo.by_key(session, t.tx_hash, t.event_index)
    assert transfer is not None
    if not inserted:
        if transfer.status == SEEN and transfer.block_number != t.block_number:
            transfer.block_number, transfer.block_timestamp = t.block_number, block_time
        if transfer.status != DROPPED:
            return 0
        # Back on the chain (re-included after a reorg): seen again, perhaps in another block.
        transfer.status = SEEN
        transfer.block_number, transfer.block_timestamp = t.block_number, block_time
    order = await _order_of(session, transfer)
    if order is not None:
        await orders.payment_seen(session, order, transfer, base_url=gateway.public_base_url)
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
