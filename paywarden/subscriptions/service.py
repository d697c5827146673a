"""Subscriptions: each client's plan in use and its monthly fee, charged from the wallets.

A period is one calendar month from its start (Jan 31 -> Feb 28/29: the day is clamped; the
next period then starts from the clamped day). A period's fee is one `subscription_fee` ledger
transaction keyed `subscription:<client_id>:<period start ISO>`: from the EUR wallet, or, when
EUR is short, the USD equivalent at the operators' rate rounded up to the cent (the house never
loses a cent), each to `fee_revenue` in its currency. A zero fee writes no transaction.

Statuses: `pending` until the first fee is paid, `active` while the period is paid, `past_due`
when a renewal or an operator's assignment found no funds. Unpaid subscriptions are charged when
a top-up lands (same transaction as the credit) and retried by the renewal job; a paid-up
unpaid subscription starts a fresh period at the moment it is paid (no charge for months
without service). Renewals of active subscriptions start at the previous period's end, so the
key makes a second or concurrent run a no-op; rows are also claimed with SKIP LOCKED.

A renewal paid (an active subscription's next period, or a past-due one's) and a renewal that
found no funds are published (`subscriptions/events`) for the client's message; a subscription
never paid yet tells nothing.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.cards import repository as cards_repo
from paywarden.clients import service as clients
from paywarden.kit import events as bus
from paywarden.kit.time import iso, utcnow
from paywarden.models import Client, Plan, Subscription
from paywarden.models.clients import ACTIVE as CLIENT_ACTIVE
from paywarden.models.subscriptions import ACTIVE, PAST_DUE, PENDING
from paywarden.plans import repository as plans_repo
from paywarden.plans import service as plans
from paywarden.plans.errors import FxRateNotSet
from paywarden.subscriptions import events
from paywarden.subscriptions import repository as repo
from paywarden.subscriptions.errors import (
    InsufficientFunds,
    PlanArchived,
    PlanNotFound,
    PlanNotSelectable,
)
from paywarden.subscriptions.events import SubscriptionChanged
from paywarden.wallets import fees

NONE = "none"  # the summary's status for a client without a subscription
# How often the renewal job retries an unpaid (pending, past_due) subscription.
RETRY_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class SubscriptionSummary:
    plan: Plan | None
    status: str  # pending | active | past_due | none
    cards_included: int
    active_cards: int
    slots_left: int  # included card slots not used yet
    max_active: int  # the client's override, else the plan's cap
    next_card_issue_fee: int  # EUR cents: 0 while an included slot is left
    can_create_cards: bool
    current_period_start: datetime | None
    current_period_end: datetime | None
    fee_charged: int
    fee_currency: str | None


@dataclass(frozen=True)
class Payment:
    currency: str | None  # None: a zero fee, nothing taken
    amount: int  # in cents of `currency`
    transaction_id: uuid.UUID | None


def add_month(moment: datetime) -> datetime:
    """The same day and time a calendar month later, the day clamped to the month's end."""
    year, month = moment.year + moment.month // 12, moment.month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


async def active_cards(db: AsyncSession, client_id: uuid.UUID) -> int:
    """The client's cards that count against its slots and cap: every one not closed (a frozen
    card can be unfrozen, so it still takes a slot)."""
    return await cards_repo.count_open(db, client_id)


def fee_key(client_id: uuid.UUID, period_start: datetime) -> str:
    return f"subscription:{client_id}:{period_start.astimezone(UTC).isoformat()}"


async def _pay(db: AsyncSession, client: Client, plan: Plan, period_start: datetime) -> Payment:
    """Take the plan's monthly fee for the period starting at `period_start`, exactly once.

    Raises InsufficientFunds (402) when neither wallet can pay, FxRateNotSet (409) when only
    the USD wallet could and no EUR/USD rate is set; nothing is written then.
    """
    fee = plan.monthly_fee
    if fee == 0:
        return Payment(None, 0, None)
    paid = await fees.charge(
        db,
        client.id,
        fee,
        kind="subscription_fee",
        idempotency_key=fee_key(client.id, period_start),
        reference_type="plan",
        reference_id=plan.id,
        note=f"{plan.name}: period from {iso(period_start)}",
        actor="system",
    )
    if paid is None:
        raise InsufficientFunds()
    return Payment(paid.currency, paid.amount, paid.entry.id)


def _start_period(
    sub: Subscription, client: Client, plan: Plan, start: datetime, paid: Payment
) -> None:
    sub.plan_id = plan.id
    sub.status = ACTIVE
    sub.current_period_start = start
    sub.current_period_end = add_month(start)
    sub.fee_charged = plan.monthly_fee
    sub.fee_currency = paid.currency
    if paid.transaction_id is not None:
        sub.last_transaction_id = paid.transaction_id
    sub.updated_at = utcnow()


async def _plan_of(db: AsyncSession, client: Client) -> Plan | None:
    return await plans_repo.get(db, client.plan_id) if client.plan_id else None


async def _subscription(db: AsyncSession, client: Client, plan: Plan) -> Subscription:
    """The client's row, locked; created (pending, on `plan`) when missing, race-safe."""
    sub = await repo.by_client(db, client.id, lock=True)
    if sub is None:
        now = utcnow()
        await repo.insert_unless_exists(
            db,
            {
                "id": uuid.uuid4(),
                "client_id": client.id,
                "plan_id": plan.id,
                "status": PENDING,
                "fee_charged": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        sub = await repo.by_client(db, client.id, lock=True)
        assert sub is not None
    return sub


async def _try_activate(db: AsyncSession, client: Client, sub: Subscription, plan: Plan) -> bool:
    """Charge an unpaid subscription now, a fresh period starting now; False without funds.
    A past-due one that had a period is renewed for the client (the message says so)."""
    now = utcnow()
    ended = sub.current_period_end if sub.status == PAST_DUE else None
    try:
        paid = await _pay(db, client, plan, now)
    except (InsufficientFunds, FxRateNotSet):  # stays unpaid; a later top-up or rate pays it
        return False
    _start_period(sub, client, plan, now, paid)
    if ended is not None:
        await _renewed(db, sub, plan, ended, paid)
    return True


async def _renewed(
    db: AsyncSession, sub: Subscription, plan: Plan, ended: datetime, paid: Payment
) -> None:
    """Tell that the period after `ended` was paid (a free plan's renewal tells nothing)."""
    if paid.currency is None:
        return
    await bus.publish(
        db,
        SubscriptionChanged(
            events.RENEWED,
            sub.id,
            sub.client_id,
            ended,
            plan.name,
            paid.amount,
            paid.currency,
            next_at=sub.current_period_end,
        ),
    )


async def _past_due(db: AsyncSession, sub: Subscription, plan: Plan, ended: datetime) -> None:
    """Tell that the renewal of the period that `ended` found no funds."""
    change = SubscriptionChanged(
        events.PAST_DUE, sub.id, sub.client_id, ended, plan.name, plan.monthly_fee, plan.currency
    )
    await bus.publish(db, change)


async def ensure(db: AsyncSession, client: Client) -> Subscription | None:
    """Give a client without a plan the default plan, and make sure it has a subscription row;
    an unpaid one is charged when the wallets can pay (a zero fee: active at once).

    Idempotent. None only when the client has no plan and operators set no default plan.
    """
    if client.plan_id is None:
        default = await plans.default_plan(db)
        if default is None:
            return None
        client.plan_id = default.id
        client.plan_since = utcnow()
    existing = await repo.by_client(db, client.id)
    if existing is not None and existing.status == ACTIVE:
        return existing  # the common case: nothing to lock or charge
    plan = await _plan_of(db, client)
    assert plan is not None
    sub = await _subscription(db, client, plan)
    if sub.status == PENDING:
        await _try_activate(db, client, sub, plan)
    await db.flush()
    return sub


async def charge_unpaid(db: AsyncSession, client: Client) -> bool:
    """Money just arrived (a top-up): charge a pending or past-due subscription, in the
    caller's transaction. True when it became active now."""
    sub = await repo.by_client(db, client.id, lock=True)
    if sub is None or sub.status == ACTIVE:
        return False
    plan = await _plan_of(db, client)
    if plan is None:
        return False
    paid = await _try_activate(db, client, sub, plan)
    await db.flush()
    return paid


async def summary(db: AsyncSession, client: Client) -> SubscriptionSummary:
    sub = await repo.by_client(db, client.id)
    plan = await _plan_of(db, client)
    status = sub.status if sub else NONE
    included = plan.cards_included if plan else 0
    active = await active_cards(db, client.id)
    slots_left = max(included - active, 0)
    max_active = max_active_for(client, plan)
    return SubscriptionSummary(
        plan=plan,
        status=status,
        cards_included=included,
        active_cards=active,
        slots_left=slots_left,
        max_active=max_active,
        next_card_issue_fee=0 if slots_left > 0 or plan is None else plan.card_issue_fee,
        can_create_cards=(
            client.status == CLIENT_ACTIVE
            and client.can_create_cards
            and status == ACTIVE
            and active < max_active
        ),
        current_period_start=sub.current_period_start if sub else None,
        current_period_end=sub.current_period_end if sub else None,
        fee_charged=sub.fee_charged if sub else 0,
        fee_currency=sub.fee_currency if sub else None,
    )


async def _get_plan(db: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await plans_repo.get(db, plan_id)
    if plan is None:
        raise PlanNotFound()
    return plan


async def _selectable(db: AsyncSession, client: Client, plan_id: uuid.UUID) -> Plan:
    """A plan the client may pick itself: 403 CLIENT_BANNED, 404, 403 PLAN_NOT_SELECTABLE
    (hidden from home or archived)."""
    clients.ensure_can_change(client)
    plan = await _get_plan(db, plan_id)
    if plan.hidden_from_home or plan.archived:
        raise PlanNotSelectable()
    return plan


def max_active_for(client: Client, plan: Plan | None) -> int:
    """The client's cap of open cards: its own override, else the plan's."""
    if client.max_active_cards is not None:
        return client.max_active_cards
    return plan.max_active_cards if plan else 0


@dataclass(frozen=True)
class PlanChange:
    """What `select_plan` would do now, worked out without doing it (the app's preview)."""

    current: Plan | None
    plan: Plan
    unchanged: bool  # already the client's paid plan: selecting it is a no-op
    fee_currency: str | None  # the wallet the fee would come from; None: nothing charged
    fee_amount: int  # in cents of `fee_currency`
    period_end: datetime  # the new period's end, were it selected now
    max_active_before: int
    max_active_after: int
    active_cards: int


async def preview_select(db: AsyncSession, client: Client, plan_id: uuid.UUID) -> PlanChange:
    """The fee `select_plan` would charge now and from which wallet (EUR, else USD at the
    operators' rate, rounded up), refusing as it would: CLIENT_BANNED, 404,
    PLAN_NOT_SELECTABLE, INSUFFICIENT_FUNDS, FX_RATE_NOT_SET. Writes nothing."""
    plan = await _selectable(db, client, plan_id)
    current = await _plan_of(db, client)
    sub = await repo.by_client(db, client.id)
    unchanged = sub is not None and sub.plan_id == plan.id and sub.status == ACTIVE
    currency, amount = None, 0
    if not unchanged and plan.monthly_fee:
        routes = await fees.payable_routes(db, client.id, plan.monthly_fee)
        if not routes:
            raise InsufficientFunds()
        currency, amount = routes[0]  # the first route charge() tries
    return PlanChange(
        current=current,
        plan=plan,
        unchanged=unchanged,
        fee_currency=currency,
        fee_amount=amount,
        period_end=add_month(utcnow()),
        max_active_before=max_active_for(client, current),
        max_active_after=max_active_for(client, plan),
        active_cards=await active_cards(db, client.id),
    )


async def select_plan(db: AsyncSession, client: Client, plan_id: uuid.UUID) -> Subscription:
    """The client's own choice of a home-catalog plan, paid at once (a new period from now).

    No funds: 402 INSUFFICIENT_FUNDS and nothing changes. The current plan while active: a no-op.
    """
    plan = await _selectable(db, client, plan_id)
    sub = await _subscription(db, client, plan)
    # The locked row, not `client` (read before the lock): a concurrent twin's switch shows.
    if sub.plan_id == plan.id and sub.status == ACTIVE:
        return sub
    now = utcnow()
    paid = await _pay(db, client, plan, now)  # raises before anything changed
    client.plan_id = plan.id
    client.plan_since = now
    _start_period(sub, client, plan, now, paid)
    await db.flush()
    return sub


async def assign_plan(
    db: AsyncSession, client: Client, plan_id: uuid.UUID, actor: Actor, notes: str | None
) -> Subscription:
    """An operator puts the client on any non-archived plan (hidden ones too), audited.

    The new plan's fee is charged at once for a fresh period; without funds the subscription
    is `past_due` (the job retries, a top-up pays it). The current plan while active: only the
    notes change.
    """
    plan = await _get_plan(db, plan_id)
    if plan.archived:
        raise PlanArchived()
    previous_plan = client.plan_id
    sub = await _subscription(db, client, plan)
    unchanged = previous_plan == plan.id and sub.status == ACTIVE
    now = utcnow()
    if previous_plan != plan.id:
        client.plan_id = plan.id
        client.plan_since = now
    if notes is not None:
        client.tariff_notes = notes
    charged = False
    if not unchanged:
        try:
            paid = await _pay(db, client, plan, now)
        except InsufficientFunds:
            sub.status = PAST_DUE
            sub.updated_at = now
        else:
            _start_period(sub, client, plan, now, paid)
            charged = True
    await db.flush()
    audit.record(
        db,
        actor,
        "client.plan_assign",
        target_type="client",
        target_id=client.id,
        details={
            "plan_id": str(plan.id),
            "plan_name": plan.name,
            "previous_plan_id": str(previous_plan) if previous_plan else None,
            "notes": notes,
            "charged": charged,
            "fee_currency": sub.fee_currency if charged else None,
            "status": sub.status,
        },
    )
    return sub


async def renew_due(db: AsyncSession, now: datetime, limit: int = 200) -> int:
    """The monthly job: renew active subscriptions whose period ended (on the client's current
    plan), and retry unpaid ones hourly. Returns how many subscriptions it charged."""
    charged = 0
    for sub in await repo.claim_due(db, now, now - RETRY_EVERY, limit):
        client = await clients.get(db, sub.client_id)
        plan = await _plan_of(db, client)
        if plan is None:
            continue
        # The period that ended: a pending subscription never had one (nothing to tell).
        ended = sub.current_period_end if sub.status != PENDING else None
        if sub.status == ACTIVE:
            assert ended is not None
            start = ended  # periods follow each other: the key is fixed
        else:
            start = now  # unpaid: service resumes when paid
        try:
            paid = await _pay(db, client, plan, start)
        except (InsufficientFunds, FxRateNotSet):  # retried hourly: funds or a rate may come
            if sub.status == ACTIVE:  # told once: the hourly retries of a past-due one are not
                assert ended is not None
                await _past_due(db, sub, plan, ended)
            sub.status = PAST_DUE
            sub.updated_at = now  # the next retry is RETRY_EVERY from now
            continue
        _start_period(sub, client, plan, start, paid)
        if ended is not None:
            await _renewed(db, sub, plan, ended, paid)
        charged += 1
    await db.flush()
    return charged
