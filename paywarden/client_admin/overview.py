"""The figures of the operators' client page (the seed's "Client admin" blocks).

Lifetime figures, per currency, from the postings on the client's own wallets:
- net deposits: `topup` credits less `topup_fee` debits (what top-ups left in the wallet);
  manual top-ups (`adjustment`) and demo balances (`demo`) are kept apart in their own fields;
- spend: `card_spend` debits less `card_refund` credits;
- fees paid: the fee-revenue postings of every transaction that touched the client's wallets
  (subscription, card issue and top-up fees, and the fee legs inside top-ups and conversions),
  in the currency the fee was taken in.
"Today" and "last 3 days" (today and the two days before) use the report time zone.

Cards (the seed's "Cards (overview)"): counts by state and currency; the assigned limit is the
sum of the active cards' monthly limits; available to spend, per currency, is what the active
cards could still spend this month — their room under the limits, capped by the wallet's
available balance. Transaction quality: of the card transactions decided in the last 3 days,
the share approved (authorized, whatever became of them later) and declined.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import codes
from paywarden.card_transactions.codes import CodeStats
from paywarden.client_admin import repository as repo
from paywarden.client_ledger import repository as ledger
from paywarden.client_ledger.repository import KindSum
from paywarden.kit.time import utcnow
from paywarden.models import AuditEntry, Card, CardTransaction, Client, Operator, Plan, Topup
from paywarden.models.cards import CARD_ACTIVE, CARD_CLOSED, CARD_FROZEN
from paywarden.models.ledger import EUR, USD, WALLET_CURRENCIES
from paywarden.plans import service as plans
from paywarden.plans.errors import FxRateNotSet
from paywarden.subscriptions import service as subscriptions
from paywarden.subscriptions.service import SubscriptionSummary
from paywarden.topups import service as topups
from paywarden.wallets import service as wallets
from paywarden.wallets.service import WalletBalance

DEPOSIT_KINDS = ("topup", "topup_fee")
SPEND_KINDS = ("card_spend", "card_refund")
RECENT_DAYS = 3

PerCurrency = dict[str, int]


@dataclass(frozen=True)
class Lifetime:
    net_deposits: PerCurrency
    adjustments: PerCurrency
    demo: PerCurrency
    spend: PerCurrency
    fees: PerCurrency
    fees_eur_estimate: int | None  # EUR fees + USD fees at the operators' rate; None: no rate


@dataclass(frozen=True)
class Window:
    count: int
    amounts: PerCurrency


@dataclass(frozen=True)
class Activity:
    topups_today: Window
    topups_recent: Window
    spend_today: PerCurrency
    spend_recent: PerCurrency
    transactions_today: int


@dataclass(frozen=True)
class CardsOverview:
    total: int
    active: int
    frozen: int
    closed: int
    by_currency: dict[str, int]  # every card, closed ones too
    assigned_limit: PerCurrency  # monthly limits of the active cards
    available_to_spend: PerCurrency


@dataclass(frozen=True)
class Quality:
    """Card transactions decided in the last 3 days (pending ones wait)."""

    approved: int
    declined: int

    def rate(self, part: int) -> Decimal | None:
        decided = self.approved + self.declined
        return (Decimal(part * 100) / decided).quantize(Decimal("0.1")) if decided else None


@dataclass(frozen=True)
class ClientOverview:
    client: Client
    plan: Plan | None
    email: str | None
    support_owner: Operator | None
    subscription: SubscriptionSummary
    balances: dict[str, WalletBalance]
    lifetime: Lifetime
    activity: Activity
    latest_topup: Topup | None
    last_action: AuditEntry | None
    cards: CardsOverview
    quality: Quality
    risk_3ds: CodeStats
    latest_transaction: CardTransaction | None


def _sum(rows: Iterable[KindSum], kinds: tuple[str, ...], sign: int = 1) -> PerCurrency:
    out: PerCurrency = dict.fromkeys(WALLET_CURRENCIES, 0)
    for row in rows:
        if row.kind in kinds:
            out[row.currency] = out.get(row.currency, 0) + sign * row.total
    return out


def _window(rows: list[KindSum], kind: str) -> Window:
    return Window(sum(r.count for r in rows if r.kind == kind), _sum(rows, (kind,)))


def day_start(moment: datetime, tz: ZoneInfo, days_back: int = 0) -> datetime:
    """Midnight (report time zone) `days_back` days before `moment`'s day, in UTC."""
    day = moment.astimezone(tz).date() - timedelta(days=days_back)
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


async def _eur_estimate(db: AsyncSession, fees: PerCurrency) -> int | None:
    try:
        rate = await plans.current_rate(db)
    except FxRateNotSet:
        return None
    usd_in_eur = (Decimal(fees.get(USD, 0)) / rate).quantize(Decimal(1), ROUND_HALF_UP)
    return fees.get(EUR, 0) + int(usd_in_eur)


async def lifetime(db: AsyncSession, client_id: uuid.UUID) -> Lifetime:
    rows = await ledger.sums_by_kind(db, client_id)
    fees: PerCurrency = dict.fromkeys(WALLET_CURRENCIES, 0)
    fees.update(await ledger.fees_paid(db, client_id))
    return Lifetime(
        net_deposits=_sum(rows, DEPOSIT_KINDS),
        adjustments=_sum(rows, ("adjustment",)),
        demo=_sum(rows, ("demo",)),
        spend=_sum(rows, SPEND_KINDS, sign=-1),
        fees=fees,
        fees_eur_estimate=await _eur_estimate(db, fees),
    )


async def activity(
    db: AsyncSession, client_id: uuid.UUID, tz: ZoneInfo, now: datetime | None = None
) -> Activity:
    now = now or utcnow()
    today = day_start(now, tz)
    today_rows = await ledger.sums_by_kind(db, client_id, today)
    recent_rows = await ledger.sums_by_kind(db, client_id, day_start(now, tz, RECENT_DAYS - 1))
    return Activity(
        topups_today=_window(today_rows, "topup"),
        topups_recent=_window(recent_rows, "topup"),
        spend_today=_sum(today_rows, SPEND_KINDS, sign=-1),
        spend_recent=_sum(recent_rows, SPEND_KINDS, sign=-1),
        transactions_today=await ledger.transaction_count(db, client_id, today),
    )


def cards_overview(
    cards: Iterable[Card], balances: dict[str, WalletBalance], now: datetime
) -> CardsOverview:
    cards = list(cards)
    month = now.strftime("%Y-%m")  # the month spent_this_month counts (UTC)
    by_currency: dict[str, int] = dict.fromkeys(WALLET_CURRENCIES, 0)
    limit: PerCurrency = dict.fromkeys(WALLET_CURRENCIES, 0)
    room: PerCurrency = dict.fromkeys(WALLET_CURRENCIES, 0)
    for card in cards:
        by_currency[card.currency] = by_currency.get(card.currency, 0) + 1
        if card.status == CARD_ACTIVE:
            spent = card.spent_this_month if card.spend_month == month else 0
            limit[card.currency] += card.monthly_limit
            room[card.currency] += max(0, card.monthly_limit - spent)
    available = {c: max(0, min(room[c], balances[c].available)) for c in WALLET_CURRENCIES}
    return CardsOverview(
        total=len(cards),
        active=sum(c.status == CARD_ACTIVE for c in cards),
        frozen=sum(c.status == CARD_FROZEN for c in cards),
        closed=sum(c.status == CARD_CLOSED for c in cards),
        by_currency=by_currency,
        assigned_limit=limit,
        available_to_spend=available,
    )


async def quality(db: AsyncSession, client_id: uuid.UUID, tz: ZoneInfo, now: datetime) -> Quality:
    counts = await repo.card_transaction_counts(db, client_id, day_start(now, tz, RECENT_DAYS - 1))
    declined = counts.get("declined", 0)
    approved = sum(n for status, n in counts.items() if status not in ("declined", "pending"))
    return Quality(approved=approved, declined=declined)


async def build(db: AsyncSession, client: Client, tz: ZoneInfo) -> ClientOverview:
    """Every block of the client page; reads only."""
    plan = await plans.get(db, client.plan_id) if client.plan_id else None
    owner = await repo.operator(db, client.support_owner_id) if client.support_owner_id else None
    emails = await repo.emails_of(db, [client])
    balances = await wallets.balances(db, client.id)
    now = utcnow()
    return ClientOverview(
        client=client,
        plan=plan,
        email=emails.get(client.id),
        support_owner=owner,
        subscription=await subscriptions.summary(db, client),
        balances=balances,
        lifetime=await lifetime(db, client.id),
        activity=await activity(db, client.id, tz),
        latest_topup=await topups.latest_for_client(db, client.id),
        last_action=await repo.last_audit_entry(db, client.id),
        cards=cards_overview(await repo.cards_of(db, client.id), balances, now),
        quality=await quality(db, client.id, tz, now),
        risk_3ds=await codes.stats(db, client.id, now, tz),
        latest_transaction=await repo.latest_card_transaction(db, client.id),
    )
