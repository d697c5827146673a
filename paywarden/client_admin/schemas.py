"""The operators' client API in and out: the list, the client page, changes, money moves."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from paywarden.card_transactions.codes import CodeStats
from paywarden.client_admin.overview import (
    CardsOverview,
    ClientOverview,
    PerCurrency,
    Quality,
    Window,
)
from paywarden.client_admin.service import BotNotifications
from paywarden.clients.schemas import SubscriptionOut, identity
from paywarden.kit.casing import RequestModel
from paywarden.kit.money import format_usdt
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.models import (
    AuditEntry,
    CardTransaction,
    Client,
    LedgerPosting,
    LedgerTransaction,
    Plan,
    Topup,
)
from paywarden.models.clients import BANNED
from paywarden.notifications.service import ClientNotification
from paywarden.plans.amounts import Cents, PositiveCents, format_cents

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
LongText = Annotated[str, Field(max_length=4000)]
WalletCurrency = Literal["EUR", "USD"]


def _amounts(values: PerCurrency) -> dict[str, str]:
    return {c: format_cents(v) for c, v in sorted(values.items())}


# ---- the list ------------------------------------------------------------------------------


class ClientQuery(PageQuery):
    search: str | None = Field(default=None, max_length=320)
    status: Literal["active", "banned"] | None = None
    plan_id: uuid.UUID | None = None


class ClientRow(BaseModel):
    id: uuid.UUID
    external_user_id: str
    display_name: str | None
    username: str | None
    language: str | None
    status: str
    email: str | None  # of the linked web user
    plan_id: uuid.UUID | None
    plan_name: str | None
    created_at: str
    last_active_at: str | None

    @classmethod
    def of(cls, c: Client, plan_name: str | None, email: str | None) -> ClientRow:
        return cls(
            **identity(c),
            email=email,
            plan_id=c.plan_id,
            plan_name=plan_name,
        )


class ClientPage(BaseModel):
    data: list[ClientRow]
    pagination: Pagination


# ---- the client page -----------------------------------------------------------------------


class Identity(BaseModel):
    id: uuid.UUID
    external_user_id: str
    display_name: str | None
    username: str | None
    language: str | None
    status: str
    email: str | None
    created_at: str
    last_active_at: str | None


class PlanRef(BaseModel):
    id: uuid.UUID
    name: str
    hidden_from_home: bool
    archived: bool

    @classmethod
    def of(cls, p: Plan | None) -> PlanRef | None:
        if p is None:
            return None
        return cls(id=p.id, name=p.name, hidden_from_home=p.hidden_from_home, archived=p.archived)


class Tariff(BaseModel):
    plan: PlanRef | None
    plan_since: str | None
    tariff_notes: str | None


class SubscriptionBlock(BaseModel):
    plan: PlanRef | None
    status: str  # pending | active | past_due | none
    cards_included: int
    active_cards: int
    slots_left: int
    max_active: int
    next_card_issue_fee: str  # EUR
    can_create_cards: bool
    current_period_start: str | None
    current_period_end: str | None
    fee_charged: str  # EUR, this period
    fee_currency: str | None  # the wallet it was taken from


class Access(BaseModel):
    banned: bool
    can_create_cards: bool
    max_active_cards: int | None  # the override; null: the plan's cap


class WalletOut(BaseModel):
    balance: str
    reserved: str  # the seed's "Reserved / pending": active holds
    available: str


class Lifetime(BaseModel):
    net_deposits: dict[str, str]
    adjustments: dict[str, str]  # manual top-ups by operators
    demo: dict[str, str]  # demo balance moves
    spend: dict[str, str]
    fees: dict[str, str]
    fees_eur_estimate: str | None  # EUR fees + USD fees at the operators' rate


class WindowOut(BaseModel):
    count: int
    amount: dict[str, str]

    @classmethod
    def of(cls, w: Window) -> WindowOut:
        return cls(count=w.count, amount=_amounts(w.amounts))


class Activity(BaseModel):
    topups_today: WindowOut
    topups_last_3_days: WindowOut
    spend_today: dict[str, str]
    spend_last_3_days: dict[str, str]
    transactions_today: int


class LatestTopup(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: str
    currency: str  # the wallet credited
    amount: str  # USDT asked for
    received: str | None  # USDT received
    gross: str | None  # USD before the fee
    fee: str | None
    net: str | None  # credited to the wallet
    created_at: str
    credited_at: str | None

    @classmethod
    def of(cls, t: Topup | None) -> LatestTopup | None:
        if t is None:
            return None

        def cents(v: int | None) -> str | None:
            return format_cents(v) if v is not None else None

        return cls(
            id=t.id,
            order_id=t.order_id,
            status=t.status,
            currency="USD",
            amount=format_usdt(t.amount_usdt),
            received=format_usdt(t.received_usdt) if t.received_usdt is not None else None,
            gross=cents(t.gross_cents),
            fee=cents(t.fee_cents),
            net=cents(t.credited_cents),
            created_at=iso(t.created_at) or "",
            credited_at=iso(t.credited_at),
        )


class OperatorRef(BaseModel):
    id: uuid.UUID
    email: str


class AdminAction(BaseModel):
    action: str
    actor: str
    created_at: str

    @classmethod
    def of(cls, e: AuditEntry | None) -> AdminAction | None:
        if e is None:
            return None
        return cls(action=e.action, actor=e.actor, created_at=iso(e.created_at) or "")


class Notes(BaseModel):
    internal_note: str | None
    support_owner: OperatorRef | None
    last_admin_action: AdminAction | None


class CardsBlock(BaseModel):
    """The seed's "Cards (overview)"."""

    total: int
    active: int
    frozen: int
    closed: int
    by_currency: dict[str, int]
    assigned_limit: dict[str, str]  # monthly limits of the active cards
    available_to_spend: dict[str, str]  # room under those limits, capped by the wallet

    @classmethod
    def of(cls, c: CardsOverview) -> CardsBlock:
        return cls(
            total=c.total,
            active=c.active,
            frozen=c.frozen,
            closed=c.closed,
            by_currency=c.by_currency,
            assigned_limit=_amounts(c.assigned_limit),
            available_to_spend=_amounts(c.available_to_spend),
        )


def _rate(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


class QualityBlock(BaseModel):
    """The seed's approval and decline rates (3 d), in percent; null before any decision."""

    approved_3d: int
    declined_3d: int
    approval_rate_3d: str | None
    decline_rate_3d: str | None

    @classmethod
    def of(cls, q: Quality) -> QualityBlock:
        return cls(
            approved_3d=q.approved,
            declined_3d=q.declined,
            approval_rate_3d=_rate(q.rate(q.approved)),
            decline_rate_3d=_rate(q.rate(q.declined)),
        )


class Risk3dsBlock(BaseModel):
    """The seed's "Risk / 3DS": codes requested today and in 7 days, approval rate by codes."""

    requests_today: int
    requests_7d: int
    approval_rate_7d: str | None
    expired_7d: int

    @classmethod
    def of(cls, r: CodeStats) -> Risk3dsBlock:
        return cls(
            requests_today=r.requests_today,
            requests_7d=r.requests_7d,
            approval_rate_7d=_rate(r.approval_rate_7d),
            expired_7d=r.expired_7d,
        )


class LatestTransaction(BaseModel):
    """The seed's "Transactions (latest)"."""

    id: uuid.UUID
    card_id: uuid.UUID
    status: str
    decline_reason: str | None
    merchant: str | None
    amount: str
    currency: str
    mcc: str | None
    country: str | None
    fx_fee: str
    created_at: str

    @classmethod
    def of(cls, t: CardTransaction | None) -> LatestTransaction | None:
        if t is None:
            return None
        return cls(
            id=t.id,
            card_id=t.card_id,
            status=t.status,
            decline_reason=t.decline_reason,
            merchant=t.merchant,
            amount=format_cents(t.amount),
            currency=t.currency,
            mcc=t.mcc,
            country=t.country,
            fx_fee=format_cents(t.fx_fee),
            created_at=iso(t.created_at) or "",
        )


class ClientDetail(BaseModel):
    identity: Identity
    tariff: Tariff
    subscription: SubscriptionBlock
    access: Access
    balances: dict[str, WalletOut]
    lifetime: Lifetime
    activity: Activity
    latest_topup: LatestTopup | None
    notes: Notes
    cards: CardsBlock
    transaction_quality: QualityBlock
    risk_3ds: Risk3dsBlock
    latest_transaction: LatestTransaction | None

    @classmethod
    def of(cls, o: ClientOverview) -> ClientDetail:
        c, s, life, act = o.client, o.subscription, o.lifetime, o.activity
        return cls(
            identity=Identity(**identity(c), email=o.email),
            tariff=Tariff(
                plan=PlanRef.of(o.plan), plan_since=iso(c.plan_since), tariff_notes=c.tariff_notes
            ),
            subscription=SubscriptionBlock(
                plan=PlanRef.of(s.plan),
                # The client API's block, the plan shown as a reference instead of a name.
                **SubscriptionOut.of(s).model_dump(exclude={"plan", "plan_id"}),
            ),
            access=Access(
                banned=c.status == BANNED,
                can_create_cards=c.can_create_cards,
                max_active_cards=c.max_active_cards,
            ),
            balances={
                cur: WalletOut(
                    balance=format_cents(b.balance),
                    reserved=format_cents(b.reserved),
                    available=format_cents(b.available),
                )
                for cur, b in sorted(o.balances.items())
            },
            lifetime=Lifetime(
                net_deposits=_amounts(life.net_deposits),
                adjustments=_amounts(life.adjustments),
                demo=_amounts(life.demo),
                spend=_amounts(life.spend),
                fees=_amounts(life.fees),
                fees_eur_estimate=(
                    format_cents(life.fees_eur_estimate)
                    if life.fees_eur_estimate is not None
                    else None
                ),
            ),
            activity=Activity(
                topups_today=WindowOut.of(act.topups_today),
                topups_last_3_days=WindowOut.of(act.topups_recent),
                spend_today=_amounts(act.spend_today),
                spend_last_3_days=_amounts(act.spend_recent),
                transactions_today=act.transactions_today,
            ),
            latest_topup=LatestTopup.of(o.latest_topup),
            notes=Notes(
                internal_note=c.internal_note,
                support_owner=(
                    OperatorRef(id=o.support_owner.id, email=o.support_owner.email)
                    if o.support_owner
                    else None
                ),
                last_admin_action=AdminAction.of(o.last_action),
            ),
            cards=CardsBlock.of(o.cards),
            transaction_quality=QualityBlock.of(o.quality),
            risk_3ds=Risk3dsBlock.of(o.risk_3ds),
            latest_transaction=LatestTransaction.of(o.latest_transaction),
        )


# ---- what the bot told the client ----------------------------------------------------------


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str  # code_3ds, card_approved, card_declined, card_refund, topup_credited, …
    status: str  # pending, sending, sent, failed, blocked (by the client), skipped
    attempts: int
    created_at: str
    sent_at: str | None
    deleted_at: str | None  # a 3-D Secure code's message, deleted from the chat when it expired
    last_error: str | None

    @classmethod
    def of(cls, n: ClientNotification) -> NotificationOut:
        return cls(
            id=n.id,
            kind=n.kind,
            status=n.status,
            attempts=n.attempts,
            created_at=iso(n.created_at) or "",
            sent_at=iso(n.sent_at),
            deleted_at=iso(n.deleted_at),
            last_error=n.last_error,
        )


class ClientNotificationsOut(BaseModel):
    bot_blocked_at: str | None  # the client blocked the bot: nothing is sent until it is back
    low_balance_threshold: str | None  # the client's alert amount (EUR or USD alike); null: off
    data: list[NotificationOut]  # the latest, newest first

    @classmethod
    def of(cls, b: BotNotifications) -> ClientNotificationsOut:
        threshold = b.low_balance_threshold
        return cls(
            bot_blocked_at=iso(b.bot_blocked_at),
            low_balance_threshold=None if threshold is None else format_cents(threshold),
            data=[NotificationOut.of(n) for n in b.notifications],
        )


# ---- changes -------------------------------------------------------------------------------


class ClientPatchIn(RequestModel):
    """Any of the fields; `max_active_cards`, `internal_note` and `support_owner_id` may be null
    (null: the plan's cap, no note, no owner)."""

    banned: bool | None = None
    can_create_cards: bool | None = None
    max_active_cards: Annotated[int, Field(ge=0, le=10_000)] | None = None
    internal_note: LongText | None = None
    support_owner_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _flags_not_null(self) -> ClientPatchIn:
        for field in ("banned", "can_create_cards"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.model_fields_set}


class AssignPlanIn(RequestModel):
    plan_id: uuid.UUID
    notes: LongText | None = None


class ManualTopupIn(RequestModel):
    """`amount`: a positive decimal string in the wallet's currency (at most 2 decimals)."""

    currency: WalletCurrency
    amount: PositiveCents
    note: Note


class DemoBalanceIn(RequestModel):
    """`amount`: the wanted balance, a decimal string (at most 2 decimals), zero allowed."""

    currency: WalletCurrency
    amount: Cents
    note: Note


class MoneyMoveOut(BaseModel):
    transaction_id: uuid.UUID | None  # null: the balance already was the one asked for
    kind: str
    currency: str
    amount: str  # what moved, signed
    balance: str
    reserved: str
    available: str
    replayed: bool


class LedgerLine(BaseModel):
    id: uuid.UUID
    transaction_id: uuid.UUID
    kind: str
    currency: str
    amount: str  # signed: + credit, - debit
    note: str | None
    actor: str | None
    reference_type: str | None
    reference_id: str | None
    idempotency_key: str
    created_at: str

    @classmethod
    def of(cls, p: LedgerPosting, t: LedgerTransaction) -> LedgerLine:
        return cls(
            id=p.id,
            transaction_id=t.id,
            kind=t.kind,
            currency=p.currency,
            amount=format_cents(p.amount),
            note=t.note,
            actor=t.actor,
            reference_type=t.reference_type,
            reference_id=t.reference_id,
            idempotency_key=t.idempotency_key,
            created_at=iso(p.created_at) or "",
        )


class LedgerPage(BaseModel):
    data: list[LedgerLine]
    pagination: Pagination
