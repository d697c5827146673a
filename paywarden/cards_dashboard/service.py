"""The cards business at a glance: the seed's "Server aggregates" (money flow, fees, quality,
3-D Secure, health, issuer float) and the daily series the console's charts draw.

Flows come from the `card_stats` rollup by day in the report zone (milliseconds at any size);
the few figures that are a state of many rows (free limit against wallets) are one query each.
The health block adds the Telegram bot's heartbeat and its notification queue's counts (a few
small queries on each request, like the issuer's figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_stats import service as stats
from paywarden.card_stats.service import Day
from paywarden.card_transactions import inbox
from paywarden.card_transactions.service import spend_month
from paywarden.cards_dashboard import repository as repo
from paywarden.issuer.base import IssuerAdapter
from paywarden.models.ledger import WALLET_CURRENCIES
from paywarden.notifications import service as notifications
from paywarden.notifications.service import BotHealth, QueueStats
from paywarden.treasury import service as treasury
from paywarden.treasury.service import EstimatesView, IssuerStatus

Period = Literal["today", "7d", "30d", "mtd"]
PERIODS: tuple[Period, ...] = ("today", "7d", "30d", "mtd")
FEES = ("fee_topup", "fee_fx", "fee_card")

PerCurrency = dict[str, int]
# `available_to_spend` reads every active card and wallet: shared, and recomputed when older.
EXPOSURE_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Exposure:
    available_to_spend: PerCurrency
    computed_at: datetime


async def refresh_exposure(db: AsyncSession, now: datetime) -> Exposure:
    """Compute what active cards could still spend, and share it (the worker's task does every
    minute; a request does when it finds the figure older than EXPOSURE_TTL)."""
    values = await repo.available_to_spend(db, spend_month(now))
    await repo.save_exposure(db, values, now)
    return Exposure(values, now)


async def exposure(db: AsyncSession, now: datetime) -> Exposure:
    rows = await repo.exposure(db)
    if len(rows) == len(WALLET_CURRENCIES):
        oldest = min(r.computed_at for r in rows)
        if now - oldest < EXPOSURE_TTL:
            return Exposure({r.currency: r.available_to_spend for r in rows}, oldest)
    return await refresh_exposure(db, now)


def period_days(period: Period, today: date) -> tuple[date, date]:
    """The first and last day of a period, in the report zone (today included)."""
    match period:
        case "today":
            return today, today
        case "7d":
            return today - timedelta(days=6), today
        case "30d":
            return today - timedelta(days=29), today
        case "mtd":
            return today.replace(day=1), today


def period_bounds(period: Period, tz: ZoneInfo, now: datetime) -> tuple[date, date]:
    """`period_days` of the report zone's today at `now`."""
    return period_days(period, stats.local_day(now, tz))


def _sum(days: Sequence[Day], *measures: str) -> PerCurrency:
    return {c: sum(d.by_currency[c][m] for d in days for m in measures) for c in WALLET_CURRENCIES}


def _count(days: Sequence[Day], *measures: str) -> int:
    return sum(d.total(m) for d in days for m in measures)


@dataclass(frozen=True)
class Window:
    """The days a figure covers, cut from the span read once."""

    today: list[Day]
    yesterday: list[Day]
    last_3_days: list[Day]
    mtd: list[Day]
    period: list[Day]


@dataclass(frozen=True)
class Health:
    provider_status: str
    webhook_lag_p95_ms: int | None
    calls_failed_1h: int
    calls_1h: int
    failed_webhooks_24h: int
    bot: BotHealth | None  # the Telegram bot's heartbeat; None: it never ran
    queue: QueueStats  # its notification outbox


@dataclass(frozen=True)
class Overview:
    period: Period
    first: date
    last: date
    timezone: str
    generated_at: datetime
    window: Window
    stock: dict[str, dict[str, int]]
    exposure: Exposure
    health: Health
    issuer: IssuerStatus
    estimates: EstimatesView
    has_ledger: bool
    has_issuer_events: bool

    def sums(self, part: str, *measures: str) -> PerCurrency:
        days: list[Day] = getattr(self.window, part)
        return _sum(days, *measures)

    def count(self, part: str, *measures: str) -> int:
        days: list[Day] = getattr(self.window, part)
        return _count(days, *measures)


def _window(days: list[Day], today: date, first: date) -> Window:
    def between(start: date, end: date) -> list[Day]:
        return [d for d in days if start <= d.day <= end]

    return Window(
        today=between(today, today),
        yesterday=between(today - timedelta(days=1), today - timedelta(days=1)),
        last_3_days=between(today - timedelta(days=2), today),
        mtd=between(today.replace(day=1), today),
        period=between(first, today),
    )


async def overview(
    db: AsyncSession,
    adapter: IssuerAdapter | None,
    period: Period,
    tz: ZoneInfo,
    now: datetime,
) -> Overview:
    today = stats.local_day(now, tz)
    first, last = period_bounds(period, tz, now)
    start = min(first, today.replace(day=1), today - timedelta(days=2))
    days = await stats.days(db, tz, start, today)
    status = await treasury.issuer_status(db, adapter, now)
    failed, total = await treasury.error_rate_1h(db, now)
    events = await inbox.stats(db, now)  # the issuer's webhooks over the last 24 hours
    health = Health(
        provider_status=status.provider_status,
        webhook_lag_p95_ms=events.lag_p95_ms,
        calls_failed_1h=failed,
        calls_1h=total,
        failed_webhooks_24h=events.failed,
        bot=await notifications.bot_health(db, now),
        queue=await notifications.queue_stats(db, now),
    )
    return Overview(
        period=period,
        first=first,
        last=last,
        timezone=str(tz.key),
        generated_at=now,
        window=_window(days, today, first),
        stock=await stats.stock(db),
        exposure=await exposure(db, now),
        health=health,
        issuer=status,
        estimates=await treasury.estimates_view(db, status, tz, now),
        has_ledger=await repo.has_ledger(db),
        has_issuer_events=await repo.has_issuer_events(db),
    )


async def daily(db: AsyncSession, tz: ZoneInfo, now: datetime, count: int) -> list[Day]:
    """The last `count` days, oldest first, zeros filled."""
    today = stats.local_day(now, tz)
    return await stats.days(db, tz, today - timedelta(days=count - 1), today)
