"""The reconciliation's checks, one function each, every one returning its `Check`.

Read-only: each page is read in its own short session that is rolled back (on SQLite a
transaction takes the write lock, so a long one would stall the workers; on PostgreSQL a page
is consistent in itself). The chain is read through the gateway's TronGrid client; a
`TronGridError` (TronGrid unreachable after the client's retries) ends the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

import base58
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.chain.service import ORPHAN_PAYMENT, parse_info
from paywarden.kit.db import Database
from paywarden.kit.money import format_usdt, parse_usdt
from paywarden.models.chain import FINAL
from paywarden.models.orders import EXPIRED, OPEN, PAID
from paywarden.reconcile import books, chain_walk
from paywarden.reconcile import repository as repo
from paywarden.reconcile.findings import Check, Progress, Report
from paywarden.reconcile.options import Options, pages, quiet, reading
from paywarden.tron.client import TronGridClient


async def run(
    db: Database, client: TronGridClient, opt: Options, progress: Progress = quiet
) -> Report:
    return Report(
        [
            await chain_transfers(db, client, opt, progress),
            await transfer_owners(db, opt, progress),
            await orders(db, opt, progress),
            await sweeps(db, client, opt, progress),
            await books.topups(db, opt, progress),
            await books.ledger(db),
        ]
    )


async def _window(db: Database, client: TronGridClient, opt: Options) -> tuple[int, int]:
    """The blocks to walk: from the window's first order or transfer (or `since`) up to the
    block both the chain and our scanner hold as final. Empty: (1, 0)."""
    async with reading(db) as session:
        state = await repo.scanner_state(session, opt.scanner_key)
        first = await repo.first_activity(session, opt.since)
        lowest = await repo.lowest_transfer_block(session, opt.since)
    if state is None:
        return 1, 0
    high = min(state.solidified_block, (await client.solidified_block()).number)
    if opt.since is not None:
        return await chain_walk.block_at(client, int(opt.since.timestamp() * 1000), high), high
    starts = [] if lowest is None else [lowest]
    if first is not None:
        starts.append(await chain_walk.block_at(client, int(first.timestamp() * 1000), high))
    return (min(starts), high) if starts else (1, 0)


async def chain_transfers(
    db: Database, client: TronGridClient, opt: Options, progress: Progress = quiet
) -> Check:
    """Every USDT transfer to one of our addresses in a final block is stored, final, once,
    with the chain's amount and address; every stored final transfer is on the chain."""
    check = Check("chain_transfers")
    low, high = await _window(db, client, opt)
    if high < low:
        return check
    async for first, last, found in chain_walk.chunks(client, opt.contract, low, high):
        async with reading(db) as session:
            ours = await repo.our_addresses(session, {t.to_address for t in found})
            stored = {r.key: r for r in await repo.transfers_in_blocks(session, first, last)}
        on_chain = {t.key: t for t in found if t.to_address in ours}
        for key, t in on_chain.items():
            ids = {"tx_hash": t.tx_hash, "event_index": t.event_index, "address": t.to_address}
            row = stored.get(key)
            if row is None:
                check.add("transfer_missing", ids, expected=format_usdt(t.amount))
            elif row.status != FINAL:
                check.add("transfer_not_final", ids, expected=FINAL, actual=row.status)
            elif (row.amount, row.to_address) != (t.amount, t.to_address):
                check.add(
                    "transfer_mismatch",
                    {**ids, "transfer_id": row.id},
                    expected=[format_usdt(t.amount), t.to_address],
                    actual=[format_usdt(row.amount), row.to_address],
                )
        for key, row in stored.items():
            if row.status == FINAL and key not in on_chain:
                check.add(
                    "transfer_not_on_chain",
                    {"transfer_id": row.id, "tx_hash": row.tx_hash, "event_index": row.event_index},
                    actual=format_usdt(row.amount),
                )
        check.tick(last - first + 1, progress)
    return check


async def transfer_owners(db: Database, opt: Options, progress: Progress = quiet) -> Check:
    """Each final transfer belongs to its order (the foreign key makes it exactly one), or,
    with no order, to an `orphan_payment` incident naming it."""
    check = Check("transfer_owners")
    async with reading(db) as session:
        payloads = await repo.incident_payloads(session, [ORPHAN_PAYMENT])
    orphans = {(p.get("tx_hash"), int(p.get("event_index", -1))) for p in payloads}
    async for page, _ in pages(db, lambda s, last: repo.final_transfers_page(s, opt.since, last)):
        for row in page:
            if row.order_id is None and row.key not in orphans:
                check.add(
                    "transfer_unowned",
                    {"transfer_id": row.id, "tx_hash": row.tx_hash, "address": row.to_address},
                    expected="an order or an orphan_payment incident",
                )
        check.tick(len(page), progress)
    return check


async def orders(db: Database, opt: Options, progress: Progress = quiet) -> Check:
    """amount_received is the sum of the order's final transfers; the status agrees with it and
    the tolerance; a paid order has exactly one `order.confirmed` webhook event (the outbox
    writes it at confirmation whether or not a URL is set), an unpaid one none."""
    check = Check("orders")
    async for page, (sums, events, late) in pages(
        db, lambda s, last: repo.orders_page(s, opt.since, last), extra=repo.order_facts
    ):
        for order in page:
            key = {"order_id": order.id}
            received = sums.get(order.id, 0)
            if order.amount_received != received:
                check.add(
                    "order_amount_mismatch",
                    key,
                    expected=format_usdt(received),
                    actual=format_usdt(order.amount_received),
                )
            enough = order.amount_received >= order.amount_expected - opt.tolerance
            wrong = (
                (order.status in PAID and not enough)
                or (order.status in OPEN and enough)
                or (order.status == EXPIRED and enough and order.id not in late)
            )
            if wrong:
                check.add(
                    "order_status_mismatch",
                    key,
                    expected="paid" if enough else "open or expired",
                    actual=order.status,
                )
            n = events.get(order.id, 0)
            if order.status in PAID and n != 1:
                kind = "webhook_event_missing" if n == 0 else "webhook_event_duplicate"
                check.add(kind, key, expected=1, actual=n)
            elif order.status not in PAID and n:
                check.add("webhook_event_unexpected", key, expected=0, actual=n)
        check.tick(len(page), progress)
    return check


async def sweeps(
    db: Database, client: TronGridClient, opt: Options, progress: Progress = quiet
) -> Check:
    """Each settlement's transfer is on the chain, solidified, succeeded, and moved exactly the
    recorded amount from the deposit address to the cold wallet; then `residues`."""
    check = Check("sweeps")
    contract_hex = base58.b58decode_check(opt.contract)[1:].hex()
    async for page, _ in pages(db, lambda s, last: repo.done_sweeps_page(s, opt.since, last)):
        for sweep in page:
            settlement = sweep.settlement or {}
            ids = {"sweep_id": sweep.id, "order_id": sweep.order_id}
            txid = settlement.get("tx_hash")
            recorded = {int(sweep.amount or 0), parse_usdt(settlement.get("amount") or "0")}
            info = await client.transaction_info(txid, solidified=True) if txid else None
            if info is None:
                check.add("sweep_tx_missing", {**ids, "tx_hash": txid})
                continue
            ids["tx_hash"] = txid
            receipt = (info.get("receipt") or {}).get("result", "SUCCESS")
            if info.get("result") == "FAILED" or receipt != "SUCCESS":
                check.add("sweep_tx_failed", ids, expected="SUCCESS", actual=receipt)
                continue
            moved = [t for t in parse_info(info, contract_hex) if t.from_address == sweep.address]
            if len(moved) != 1:
                check.add("sweep_transfer_missing", ids, expected=1, actual=len(moved))
                continue
            if opt.cold_wallet and moved[0].to_address != opt.cold_wallet:
                check.add(
                    "sweep_destination_mismatch",
                    ids,
                    expected=opt.cold_wallet,
                    actual=moved[0].to_address,
                )
            if recorded != {moved[0].amount}:
                check.add(
                    "sweep_amount_mismatch",
                    ids,
                    expected=format_usdt(moved[0].amount),
                    actual=sorted(format_usdt(a) for a in recorded),
                )
        check.tick(len(page), progress)
    await residues(db, client, opt, check, progress)
    return check


async def residues(
    db: Database, client: TronGridClient, opt: Options, check: Check, progress: Progress
) -> None:
    """A swept address that no unfinished sweep nor open order covers holds what arrived (as
    stored) less what its sweeps took; more or less is a difference. What it still holds (a
    payment after its sweep: late or orphan, each with its incident) is a note: nothing sweeps
    it until an operator does."""

    def swept(session: AsyncSession, last: str | None) -> Awaitable[Sequence[str]]:
        return repo.swept_addresses_page(session, opt.since, last)

    async for page, _ in pages(db, swept, key=lambda address: address):
        for address in page:
            async with reading(db) as session:
                if await repo.covered(session, address):
                    continue
                inflow, swept = await repo.address_totals(session, address)
            balance = await _usdt(client, opt.contract, address)
            figures = (format_usdt(inflow - swept), format_usdt(balance))
            if balance != inflow - swept:
                check.add("unswept_funds", {"address": address}, *figures)
            elif balance:
                check.note("funds_after_sweep", {"address": address}, *figures)
        progress("sweeps.residues", len(page))


async def _usdt(client: TronGridClient, contract: str, address: str) -> int:
    account = await client.account(address)
    for holding in (account or {}).get("trc20") or []:
        if contract in holding:
            return int(holding[contract])
    return 0
