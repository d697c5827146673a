"""All SQL of the reconciliation: read-only, in keyset pages (`PAGE` rows, ordered by id)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import (
    ChainTransfer,
    DepositAddress,
    Incident,
    LedgerAccount,
    LedgerHold,
    LedgerPosting,
    LedgerTransaction,
    Order,
    Plan,
    ScannerState,
    Sweep,
    Topup,
    WebhookEvent,
)
from paywarden.models.addresses import ALLOCATED
from paywarden.models.chain import FINAL, SEEN
from paywarden.models.ledger import HELD, ISSUER_FLOAT
from paywarden.models.orders import OPEN
from paywarden.models.sweeps import S_DONE, UNFINISHED
from paywarden.models.treasury import IssuerBalance
from paywarden.models.webhooks import ORDER_CONFIRMED
from paywarden.orders.service import LATE_PAYMENT

PAGE = 500
Leg = tuple[str, str | None, str, int]  # a posting: account kind, system code, currency, amount
_CHUNK = 500  # keys per IN (...): under SQLite's and asyncpg's parameter limits


def _after(column: Any, last: uuid.UUID | None) -> Any:
    return column > last if last is not None else True


def _since(column: Any, since: datetime | None) -> Any:
    return column >= since if since is not None else True


async def scanner_state(session: AsyncSession, key: str) -> ScannerState | None:
    return await session.get(ScannerState, key)


async def first_activity(session: AsyncSession, since: datetime | None) -> datetime | None:
    """When the window's first order was created (the chain walk starts at that block)."""
    return await session.scalar(
        select(func.min(Order.created_at)).where(_since(Order.created_at, since))
    )


async def lowest_transfer_block(session: AsyncSession, since: datetime | None) -> int | None:
    return await session.scalar(
        select(func.min(ChainTransfer.block_number)).where(_since(ChainTransfer.created_at, since))
    )


async def our_addresses(session: AsyncSession, wanted: Iterable[str]) -> set[str]:
    values = sorted(set(wanted))
    found: set[str] = set()
    for start in range(0, len(values), _CHUNK):
        rows = await session.scalars(
            select(DepositAddress.address).where(
                DepositAddress.address.in_(values[start : start + _CHUNK])
            )
        )
        found.update(rows.all())
    return found


class StoredTransfer(NamedTuple):
    id: uuid.UUID
    tx_hash: str
    event_index: int
    to_address: str
    amount: int
    status: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.tx_hash, self.event_index)


async def transfers_in_blocks(session: AsyncSession, low: int, high: int) -> list[StoredTransfer]:
    """Stored transfers of blocks low..high, as plain tuples (a chunk's worth, not the history)."""
    rows = await session.execute(
        select(
            ChainTransfer.id,
            ChainTransfer.tx_hash,
            ChainTransfer.event_index,
            ChainTransfer.to_address,
            ChainTransfer.amount,
            ChainTransfer.status,
        ).where(ChainTransfer.block_number >= low, ChainTransfer.block_number <= high)
    )
    return [StoredTransfer(*row) for row in rows.all()]


async def final_transfers_page(
    session: AsyncSession, since: datetime | None, last: uuid.UUID | None
) -> Sequence[ChainTransfer]:
    rows = await session.scalars(
        select(ChainTransfer)
        .where(
            ChainTransfer.status == FINAL,
            _since(ChainTransfer.created_at, since),
            _after(ChainTransfer.id, last),
        )
        .order_by(ChainTransfer.id)
        .limit(PAGE)
    )
    return rows.all()


async def incident_payloads(session: AsyncSession, types: Sequence[str]) -> Sequence[dict]:
    """The payloads of the orphan/late-payment incidents: rare rows (one per stray payment)."""
    rows = await session.scalars(select(Incident.payload).where(Incident.event_type.in_(types)))
    return rows.all()


async def orders_page(
    session: AsyncSession, since: datetime | None, last: uuid.UUID | None
) -> Sequence[Order]:
    rows = await session.scalars(
        select(Order)
        .where(_since(Order.created_at, since), _after(Order.id, last))
        .order_by(Order.id)
        .limit(PAGE)
    )
    return rows.all()


async def final_sums(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(ChainTransfer.order_id, func.sum(ChainTransfer.amount))
        .where(ChainTransfer.order_id.in_(order_ids), ChainTransfer.status == FINAL)
        .group_by(ChainTransfer.order_id)
    )
    return {order_id: int(total) for order_id, total in rows.all()}


async def confirmed_events(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(WebhookEvent.order_id, func.count())
        .where(WebhookEvent.order_id.in_(order_ids), WebhookEvent.type == ORDER_CONFIRMED)
        .group_by(WebhookEvent.order_id)
    )
    return {order_id: int(n) for order_id, n in rows.all()}


async def orders_with_incident(
    session: AsyncSession, order_ids: Sequence[uuid.UUID], event_type: str
) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(Incident.order_id).where(
            Incident.order_id.in_(order_ids), Incident.event_type == event_type
        )
    )
    return set(rows.all())


async def order_facts(
    session: AsyncSession, page: Sequence[Order]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int], set[uuid.UUID]]:
    """For a page of orders: final sums, `order.confirmed` events, and late-payment incidents."""
    ids = [o.id for o in page]
    return (
        await final_sums(session, ids),
        await confirmed_events(session, ids),
        await orders_with_incident(session, ids, LATE_PAYMENT),
    )


async def done_sweeps_page(
    session: AsyncSession, since: datetime | None, last: uuid.UUID | None
) -> Sequence[Sweep]:
    rows = await session.scalars(
        select(Sweep)
        .where(Sweep.status == S_DONE, _since(Sweep.created_at, since), _after(Sweep.id, last))
        .order_by(Sweep.id)
        .limit(PAGE)
    )
    return rows.all()


async def swept_addresses_page(
    session: AsyncSession, since: datetime | None, last: str | None
) -> Sequence[str]:
    rows = await session.scalars(
        select(Sweep.address)
        .where(
            Sweep.status == S_DONE,
            _since(Sweep.created_at, since),
            Sweep.address > last if last is not None else True,
        )
        .group_by(Sweep.address)
        .order_by(Sweep.address)
        .limit(PAGE)
    )
    return rows.all()


async def covered(session: AsyncSession, address: str) -> bool:
    """An unfinished sweep takes the address's whole balance, or an open order still waits on
    it (its funds are swept once it is confirmed)."""
    sweep = await session.scalar(
        select(Sweep.id).where(Sweep.address == address, Sweep.status.in_(UNFINISHED)).limit(1)
    )
    if sweep is not None:
        return True
    held = await session.scalar(
        select(Order.id)
        .join(DepositAddress, DepositAddress.order_id == Order.id)
        .where(
            DepositAddress.address == address,
            DepositAddress.status == ALLOCATED,
            Order.status.in_(OPEN),
        )
        .limit(1)
    )
    return held is not None


async def address_totals(session: AsyncSession, address: str) -> tuple[int, int]:
    """(micro-USDT stored as arriving at `address`, not dropped; micro-USDT its done sweeps
    took away)."""
    inflow = await session.scalar(
        select(func.coalesce(func.sum(ChainTransfer.amount), 0)).where(
            ChainTransfer.to_address == address, ChainTransfer.status.in_((SEEN, FINAL))
        )
    )
    swept = await session.scalar(
        select(func.coalesce(func.sum(Sweep.amount), 0)).where(
            Sweep.address == address, Sweep.status == S_DONE
        )
    )
    return int(inflow or 0), int(swept or 0)


async def topups_page(
    session: AsyncSession, since: datetime | None, last: uuid.UUID | None
) -> Sequence[tuple[Topup, Order]]:
    rows = await session.execute(
        select(Topup, Order)
        .join(Order, Order.id == Topup.order_id)
        .where(_since(Topup.created_at, since), _after(Topup.id, last))
        .order_by(Topup.id)
        .limit(PAGE)
    )
    return [(t, o) for t, o in rows.all()]


async def topup_transactions(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[str, list[LedgerTransaction]]:
    """The `topup` ledger transactions naming each order, by the order's id as text."""
    rows = await session.scalars(
        select(LedgerTransaction).where(
            LedgerTransaction.kind == "topup",
            LedgerTransaction.reference_type == "order",
            LedgerTransaction.reference_id.in_([str(i) for i in order_ids]),
        )
    )
    found: dict[str, list[LedgerTransaction]] = {}
    for row in rows.all():
        found.setdefault(str(row.reference_id), []).append(row)
    return found


async def topup_credits(
    session: AsyncSession, page: Sequence[tuple[Topup, Order]]
) -> tuple[dict[str, list[LedgerTransaction]], dict[uuid.UUID, list[Leg]]]:
    """For a page of top-ups: their orders' `topup` transactions, and those transactions' legs."""
    credits = await topup_transactions(session, [o.id for _, o in page])
    return credits, await legs(session, [t.id for entries in credits.values() for t in entries])


async def legs(
    session: AsyncSession, transaction_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Leg]]:
    """Each transaction's postings as (account kind, system code, currency, amount)."""
    rows = await session.execute(
        select(
            LedgerPosting.transaction_id,
            LedgerAccount.kind,
            LedgerAccount.code,
            LedgerPosting.currency,
            LedgerPosting.amount,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerPosting.transaction_id.in_(transaction_ids))
    )
    found: dict[uuid.UUID, list[Leg]] = {}
    for tx, kind, code, currency, amount in rows.all():
        found.setdefault(tx, []).append((kind, code, currency, int(amount)))
    return found


async def plan_fee_bps(session: AsyncSession) -> set[int]:
    return set((await session.scalars(select(Plan.topup_fee_bps))).all())


async def issuer_balances(session: AsyncSession) -> Sequence[IssuerBalance]:
    rows = await session.scalars(select(IssuerBalance).order_by(IssuerBalance.issuer))
    return rows.all()


async def float_balances(session: AsyncSession) -> dict[str, int]:
    """The issuer_float account per currency (its shards summed)."""
    rows = await session.execute(
        select(LedgerAccount.currency, func.sum(LedgerAccount.balance))
        .where(LedgerAccount.code == ISSUER_FLOAT)
        .group_by(LedgerAccount.currency)
    )
    return {currency: int(total) for currency, total in rows.all()}


async def held_on_wallets(session: AsyncSession) -> dict[str, int]:
    """Live holds per currency: authorizations the issuer has already taken from its float."""
    rows = await session.execute(
        select(LedgerAccount.currency, func.sum(LedgerHold.amount))
        .join(LedgerAccount, LedgerAccount.id == LedgerHold.account_id)
        .where(LedgerHold.status == HELD)
        .group_by(LedgerAccount.currency)
    )
    return {currency: int(total) for currency, total in rows.all()}


async def ledger_size(session: AsyncSession) -> int:
    """Accounts and transactions the ledger check went through."""
    accounts = await session.scalar(select(func.count()).select_from(LedgerAccount))
    entries = await session.scalar(select(func.count()).select_from(LedgerTransaction))
    return int(accounts or 0) + int(entries or 0)
