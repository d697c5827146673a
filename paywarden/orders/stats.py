"""Dashboard figures, read from the daily rollup so they cost the same at any table size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.addresses import service as addresses
from paywarden.addresses.repository import PoolStats
from paywarden.kit.time import utcnow
from paywarden.merchants import repository as merchants
from paywarden.orders import repository as repo
from paywarden.orders.repository import Totals
from paywarden.orders.service import report_day

if TYPE_CHECKING:  # the process's settings: only read here
    from paywarden.context import GatewayContext

WEEK_DAYS = 7


@dataclass(frozen=True)
class Dashboard:
    today: Totals
    week: Totals
    total: Totals
    merchant_count: int
    address_pool: PoolStats


def today(ctx: GatewayContext) -> date:
    return report_day(utcnow(), ctx.tz)


async def dashboard(db: AsyncSession, ctx: GatewayContext) -> Dashboard:
    """Today and the last 7 days (today included) in the report time zone, and all time.

    Orders count on the day they were created; an order is "completed" (paid) once its funds
    are final, whether or not the merchant's webhook then succeeded.
    """
    day = today(ctx)
    return Dashboard(
        today=await repo.totals(db, since=day),
        week=await repo.totals(db, since=day - timedelta(days=WEEK_DAYS - 1)),
        total=await repo.totals(db),
        merchant_count=await merchants.count(db),
        address_pool=await addresses.stats(db, ctx.pool),
    )


async def daily(db: AsyncSession, ctx: GatewayContext) -> list[tuple[date, int]]:
    """The last 7 days, oldest first, each with what was received (zero when nothing)."""
    first = today(ctx) - timedelta(days=WEEK_DAYS - 1)
    received = await repo.received_by_day(db, first)
    return [(d, received.get(d, 0)) for d in (first + timedelta(days=i) for i in range(WEEK_DAYS))]
