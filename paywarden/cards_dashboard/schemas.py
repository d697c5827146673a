"""The overview and the daily series out. Money: strings with 2 decimals per wallet currency
(`{"EUR": "…", "USD": "…"}`); rates: percentage strings with 2 decimals, null when there is
nothing to divide; counts: integers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from paywarden.card_stats.service import Day
from paywarden.cards_dashboard.service import FEES, Overview, PerCurrency, Period
from paywarden.kit.casing import RequestModel
from paywarden.kit.money import percent
from paywarden.kit.time import iso
from paywarden.models.ledger import WALLET_CURRENCIES
from paywarden.notifications.service import BotHealth, QueueStats
from paywarden.plans.amounts import format_cents
from paywarden.treasury.schemas import EstimatesOut, IssuerOut

Money = dict[str, str]


def money(values: PerCurrency) -> Money:
    return {c: format_cents(values.get(c, 0)) for c in WALLET_CURRENCIES}


def rate(part: int, whole: int) -> str | None:
    return percent(part, whole) if whole else None


def average(amounts: PerCurrency, counts: PerCurrency) -> dict[str, str | None]:
    """Per currency, the mean in cents rounded half up; null without any."""
    out: dict[str, str | None] = {}
    for c in WALLET_CURRENCIES:
        n = counts.get(c, 0)
        out[c] = format_cents((2 * amounts.get(c, 0) + n) // (2 * n)) if n else None
    return out


def minus(a: PerCurrency, b: PerCurrency) -> PerCurrency:
    return {c: a.get(c, 0) - b.get(c, 0) for c in WALLET_CURRENCIES}


class OverviewQuery(RequestModel):
    period: Period = "today"


class DailyQuery(RequestModel):
    days: int = Field(default=30, ge=1, le=90)


class ActiveCards(BaseModel):
    EUR: int
    USD: int
    total: int


class CardsOut(BaseModel):
    active: ActiveCards
    assigned_limit: Money  # the monthly limits of active cards
    available_to_spend: Money  # per client: min(free limit, wallet available), summed
    available_as_of: str  # when it was computed (at most a minute before `generated_at`)


class LifecycleOut(BaseModel):
    created: int
    closed: int


class FlowOut(BaseModel):
    today: Money
    yesterday: Money
    last_3_days: Money
    count_today: int
    avg_size_3d: dict[str, str | None]


class NetFlowOut(BaseModel):
    today: Money
    last_3_days: Money


class FeeBreakdown(BaseModel):
    topup: Money
    fx: Money  # conversions, and card purchases in another currency
    card: Money  # issue, monthly, other


class FeesOut(BaseModel):
    today: Money
    yesterday: Money
    last_3_days: Money
    mtd: Money
    breakdown: FeeBreakdown  # for the period


class DeclineReasons(BaseModel):
    insufficient_funds: int
    do_not_honor: int
    three_ds: int = Field(serialization_alias="3ds")  # required or failed
    other: int

    @classmethod
    def of(cls, count: Callable[[str], int]) -> DeclineReasons:
        """From a counter of the rollup's measures (over whichever days)."""
        return cls(
            insufficient_funds=count("declined_insufficient_funds"),
            do_not_honor=count("declined_do_not_honor"),
            three_ds=count("declined_3ds"),
            other=count("declined_other"),
        )


class QualityOut(BaseModel):
    approval_rate_3d: str | None
    decline_rate_3d: str | None
    pending_volume: Money  # authorized, not yet settled
    pending_count: int
    top_decline_reasons: DeclineReasons  # over the last 3 days


class Risk3dsOut(BaseModel):
    requests_today: int
    approval_rate_3d: str | None  # codes used of codes used, declined or expired
    expired_3d: int


BotState = Literal["running", "stopped", "never_started"]


class BotOut(BaseModel):
    """The Telegram bot: `running` with a heartbeat within the last 60 s, `stopped` with an
    older one (`heartbeat_at` says when it was last seen), `never_started` without any."""

    status: BotState
    mode: Literal["polling", "webhook"] | None
    username: str | None
    holder: str | None  # host:pid of the process that holds the bot's lock
    started_at: str | None
    heartbeat_at: str | None
    last_update_at: str | None  # the last client message it handled
    last_error: str | None

    @classmethod
    def of(cls, h: BotHealth | None) -> BotOut:
        if h is None:
            return cls(
                status="never_started",
                mode=None,
                username=None,
                holder=None,
                started_at=None,
                heartbeat_at=None,
                last_update_at=None,
                last_error=None,
            )
        return cls(
            status="running" if h.alive else "stopped",
            mode=h.mode,  # type: ignore[arg-type]
            username=h.username,
            holder=h.holder,
            started_at=iso(h.started_at),
            heartbeat_at=iso(h.heartbeat_at),
            last_update_at=iso(h.last_update_at),
            last_error=h.last_error,
        )


class NotificationQueueOut(BaseModel):
    """The bot's outbox: what waits now, and what became of the last 24 hours' messages."""

    pending: int
    sending: int
    oldest_pending_s: int | None  # whole seconds the oldest waiting message has waited
    sent_24h: int
    failed_24h: int
    blocked_24h: int  # the client had blocked the bot

    @classmethod
    def of(cls, q: QueueStats) -> NotificationQueueOut:
        oldest = q.oldest_pending_seconds
        return cls(
            pending=q.pending,
            sending=q.sending,
            oldest_pending_s=None if oldest is None else int(oldest),
            sent_24h=q.sent_24h,
            failed_24h=q.failed_24h,
            blocked_24h=q.blocked_24h,
        )


class HealthOut(BaseModel):
    provider_status: Literal["ok", "degraded", "down"]
    webhook_lag_p95_s: str | None  # the issuer's webhooks over the last 24 h
    error_rate_1h: str | None  # issuer calls that failed, %
    failed_webhooks_24h: int
    bot: BotOut
    notifications: NotificationQueueOut


class CoverageOut(BaseModel):
    ledger: bool
    issuer_events: bool
    note: str


class OverviewOut(BaseModel):
    period: Period
    from_: str = Field(serialization_alias="from")
    to: str
    timezone: str
    cards: CardsOut
    lifecycle: LifecycleOut
    topups: FlowOut
    spend: FlowOut
    net_flow: NetFlowOut
    fees: FeesOut
    quality: QualityOut
    risk_3ds: Risk3dsOut
    health: HealthOut
    issuer: IssuerOut
    estimates: EstimatesOut
    coverage: CoverageOut
    generated_at: str

    @classmethod
    def of(cls, o: Overview) -> OverviewOut:
        stock = o.stock
        active = {c: stock[c]["cards_active"] for c in WALLET_CURRENCIES}
        topups_3d = o.sums("last_3_days", "topup_amount")
        spend_3d = o.sums("last_3_days", "spend_amount")
        approved, declined = (
            o.count("last_3_days", "tx_approved"),
            o.count("last_3_days", "tx_declined"),
        )
        codes_done = o.count("last_3_days", "codes_used", "codes_declined", "codes_expired")
        lag = o.health.webhook_lag_p95_ms
        return cls(
            period=o.period,
            from_=o.first.isoformat(),
            to=o.last.isoformat(),
            timezone=o.timezone,
            cards=CardsOut(
                active=ActiveCards(
                    EUR=active["EUR"], USD=active["USD"], total=sum(active.values())
                ),
                assigned_limit=money(
                    {c: stock[c]["cards_active_limit"] for c in WALLET_CURRENCIES}
                ),
                available_to_spend=money(o.exposure.available_to_spend),
                available_as_of=iso(o.exposure.computed_at) or "",
            ),
            lifecycle=LifecycleOut(
                created=o.count("period", "cards_created"),
                closed=o.count("period", "cards_closed"),
            ),
            topups=FlowOut(
                today=money(o.sums("today", "topup_amount")),
                yesterday=money(o.sums("yesterday", "topup_amount")),
                last_3_days=money(topups_3d),
                count_today=o.count("today", "topup_count"),
                avg_size_3d=average(topups_3d, o.sums("last_3_days", "topup_count")),
            ),
            spend=FlowOut(
                today=money(o.sums("today", "spend_amount")),
                yesterday=money(o.sums("yesterday", "spend_amount")),
                last_3_days=money(spend_3d),
                count_today=o.count("today", "spend_count"),
                avg_size_3d=average(spend_3d, o.sums("last_3_days", "spend_count")),
            ),
            net_flow=NetFlowOut(
                today=money(
                    minus(o.sums("today", "topup_amount"), o.sums("today", "spend_amount"))
                ),
                last_3_days=money(minus(topups_3d, spend_3d)),
            ),
            fees=FeesOut(
                today=money(o.sums("today", *FEES)),
                yesterday=money(o.sums("yesterday", *FEES)),
                last_3_days=money(o.sums("last_3_days", *FEES)),
                mtd=money(o.sums("mtd", *FEES)),
                breakdown=FeeBreakdown(
                    topup=money(o.sums("period", "fee_topup")),
                    fx=money(o.sums("period", "fee_fx")),
                    card=money(o.sums("period", "fee_card")),
                ),
            ),
            quality=QualityOut(
                approval_rate_3d=rate(approved, approved + declined),
                decline_rate_3d=rate(declined, approved + declined),
                pending_volume=money({c: stock[c]["pending_amount"] for c in WALLET_CURRENCIES}),
                pending_count=sum(stock[c]["pending_count"] for c in WALLET_CURRENCIES),
                top_decline_reasons=DeclineReasons.of(lambda m: o.count("last_3_days", m)),
            ),
            risk_3ds=Risk3dsOut(
                requests_today=o.count("today", "codes_requested"),
                approval_rate_3d=rate(o.count("last_3_days", "codes_used"), codes_done),
                expired_3d=o.count("last_3_days", "codes_expired"),
            ),
            health=HealthOut(
                provider_status=o.health.provider_status,  # type: ignore[arg-type]
                webhook_lag_p95_s=(
                    f"{(Decimal(lag) / 1000).quantize(Decimal('0.01'))}"
                    if lag is not None
                    else None
                ),
                error_rate_1h=rate(o.health.calls_failed_1h, o.health.calls_1h),
                failed_webhooks_24h=o.health.failed_webhooks_24h,
                bot=BotOut.of(o.health.bot),
                notifications=NotificationQueueOut.of(o.health.queue),
            ),
            issuer=IssuerOut.of(o.issuer),
            estimates=EstimatesOut.of(o.estimates),
            coverage=coverage(o.has_ledger, o.has_issuer_events),
            generated_at=iso(o.generated_at) or "",
        )


def coverage(ledger: bool, issuer_events: bool) -> CoverageOut:
    """The seed's "Coverage is partial if webhooks or ledger are empty", said plainly."""
    missing = [
        what
        for what, present in (
            ("no ledger entries yet: top-ups and fees read zero", ledger),
            (
                "no issuer webhooks yet: settlements, refunds and 3-D Secure codes read zero",
                issuer_events,
            ),
        )
        if not present
    ]
    note = (
        "Complete: the ledger and the issuer's webhooks both have data."
        if not missing
        else ("Partial: " + "; ".join(missing) + ".")
    )
    return CoverageOut(ledger=ledger, issuer_events=issuer_events, note=note)


class DayOut(BaseModel):
    date: str
    topups: Money
    spend: Money
    fees: Money
    approvals: int
    declines: int
    declines_by_reason: DeclineReasons
    threeds_requests: int
    cards_created: int

    @classmethod
    def of(cls, d: Day) -> DayOut:
        def per(*measures: str) -> Money:
            return money({c: sum(d.by_currency[c][m] for m in measures) for c in WALLET_CURRENCIES})

        return cls(
            date=d.day.isoformat(),
            topups=per("topup_amount"),
            spend=per("spend_amount"),
            fees=per(*FEES),
            approvals=d.total("tx_approved"),
            declines=d.total("tx_declined"),
            declines_by_reason=DeclineReasons.of(d.total),
            threeds_requests=d.total("codes_requested"),
            cards_created=d.total("cards_created"),
        )
