"""The operators' view of the gateway: dashboard figures, the 7-day revenue, one order in full.

The admin API answers these as JSON and the console renders them as pages; both call here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.money import format_usdt, percent
from paywarden.kit.time import iso
from paywarden.orders import detail as details
from paywarden.orders import stats
from paywarden.orders.repository import Totals
from paywarden.orders.schemas import (
    AdminOrderDetail,
    AdminOrderDetailOrder,
    AdminOrderOut,
    OrderEventOut,
    OrderMeta,
    SettlementOut,
    TransferOut,
)
from paywarden.orders.stats_schemas import (
    DailyRevenue,
    PoolOut,
    StatsOut,
    StatsPeriod,
    StatsTotal,
)
from paywarden.webhooks.schemas import WebhookEventOut

if TYPE_CHECKING:
    from paywarden.config import Settings
    from paywarden.context import GatewayContext
    from paywarden.tron.networks import Network


def _period(t: Totals) -> StatsPeriod:
    return StatsPeriod(
        order_count=t.order_count,
        completed_count=t.paid_count,
        total_received=format_usdt(t.total_received),
        success_rate=percent(t.paid_count, t.order_count),
    )


async def summary(db: AsyncSession, gateway: GatewayContext) -> StatsOut:
    d = await stats.dashboard(db, gateway)
    return StatsOut(
        today=_period(d.today),
        week=_period(d.week),
        total=StatsTotal(**_period(d.total).model_dump(), merchant_count=d.merchant_count),
        address_pool=PoolOut.of(d.address_pool),
    )


async def daily_revenue(db: AsyncSession, gateway: GatewayContext) -> list[DailyRevenue]:
    """Fixed 7-day window ending today (report time zone); days with nothing show zero."""
    rows = await stats.daily(db, gateway)
    return [DailyRevenue(date=d.isoformat(), total_received=format_usdt(v)) for d, v in rows]


def _transaction(transfers: list[TransferOut], completed_by: str | None) -> TransferOut | None:
    """The order's `transaction`: the transfer that completed it (the order's `tx_hash`), else
    the latest one still on the chain, else the latest at all (dropped by a reorg)."""
    completing = [t for t in transfers if completed_by and t.tx_hash == completed_by]
    standing = [t for t in transfers if t.status != "dropped"]
    for found in (completing, standing, transfers):
        if found:
            return found[-1]
    return None


async def order_detail(
    db: AsyncSession, order_id: uuid.UUID, settings: Settings, network: Network
) -> AdminOrderDetail:
    detail = await details.load(db, order_id)
    base = AdminOrderOut.of(detail.order, detail.merchant_name)
    transfers = [TransferOut.of(t, network.tx_explorer_base_url) for t in detail.transfers]
    return AdminOrderDetail(
        order=AdminOrderDetailOrder(
            **base.model_dump(),
            callback_url=detail.order.callback_url,
            checkout_url=f"{settings.public_base_url}/pay/{detail.order.id}",
            metadata=detail.order.meta,
            updated_at=iso(detail.order.updated_at) or "",
        ),
        events=[OrderEventOut.of(e) for e in detail.events],
        webhooks=WebhookEventOut.list_of(detail.webhooks),
        transaction=_transaction(transfers, detail.order.tx_hash),
        transfers=transfers,
        settlement=SettlementOut(**detail.settlement) if detail.settlement else None,
        meta=OrderMeta(
            network=network.name,
            usdt_contract=network.usdt_contract,
            tronscan_base_url=network.tronscan_base_url,
            tx_explorer_base_url=network.tx_explorer_base_url,
            address_explorer_base_url=network.address_explorer_base_url,
            sweep_enabled=settings.sweep_enabled,
            sweep_mode=settings.sweep_mode,
        ),
    )
