"""Bodies and answers of the client API (`/api/botcartd/...`). Money goes out as strings with
the currency's fixed decimals (`"12.50"`, USDT `"20.000000"`), never as floats."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from paywarden.card_transactions.schemas import Code3dsOut
from paywarden.cards.schemas import CardOut
from paywarden.kit.casing import RequestModel
from paywarden.kit.money import USDT_DECIMALS, Amount, format_usdt
from paywarden.kit.pagination import Pagination
from paywarden.kit.time import iso
from paywarden.models import Client, LedgerPosting, LedgerTransaction, Plan
from paywarden.plans.amounts import PositiveCents, format_cents, format_rate
from paywarden.plans.schemas import rendered
from paywarden.subscriptions.service import SubscriptionSummary
from paywarden.topups.service import TopupCreated

Profile = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]
Currency = Literal["EUR", "USD"]


# ---- in ------------------------------------------------------------------------------------


class ClientUpsertIn(RequestModel):
    """The bot's view of a user: `tg_<telegram user id>` (or `web_<id>`) and its profile; the
    profile fields left out (or null) keep their values."""

    external_user_id: str = Field(max_length=80, examples=["tg_123456789"])
    display_name: Profile | None = None
    username: Profile | None = None
    language: Language | None = None


class PlanSelectIn(RequestModel):
    plan_id: uuid.UUID


class TopupIn(RequestModel):
    amount: Annotated[
        int,
        Field(description='USDT as a decimal string, e.g. "25" or "12.5": > 0, at most 6 decimals'),
        Amount(USDT_DECIMALS, positive=True, example="25"),
    ]

    @property
    def amount_units(self) -> int:
        """Micro-USDT (the service checks the configured maximum)."""
        return self.amount


class ConvertIn(RequestModel):
    """`amount` in the `from` currency, a decimal string with at most 2 decimals."""

    from_: Currency = Field(alias="from")
    to: Currency
    amount: PositiveCents


# ---- out -----------------------------------------------------------------------------------


def identity(c: Client) -> dict[str, Any]:
    """The fields every view of a client opens with, with its times rendered."""
    return {
        "id": c.id,
        "external_user_id": c.external_user_id,
        "display_name": c.display_name,
        "username": c.username,
        "language": c.language,
        "status": c.status,
        "created_at": iso(c.created_at) or "",
        "last_active_at": iso(c.last_active_at),
    }


class ClientOut(BaseModel):
    id: uuid.UUID
    external_user_id: str
    display_name: str | None
    username: str | None
    language: str | None
    status: str
    can_create_cards: bool
    max_active_cards: int | None  # the override; null: the plan's cap applies
    plan_id: uuid.UUID | None
    plan_since: str | None
    created_at: str
    last_active_at: str | None

    @classmethod
    def of(cls, c: Client) -> ClientOut:
        return cls(
            **identity(c),
            can_create_cards=c.can_create_cards,
            max_active_cards=c.max_active_cards,
            plan_id=c.plan_id,
            plan_since=iso(c.plan_since),
        )


# What a client sees of a plan: no sort order, visibility or archive flags.
CLIENT_PLAN_FIELDS = (
    "name",
    "bullets",
    "currency",
    "monthly_fee",
    "monthly_fee_usd",
    "cards_included",
    "max_active_cards",
    "card_issue_fee",
    "card_issue_fee_usd",
    "topup_fee_percent",
    "fx_fee_percent",
)


class ClientPlanOut(BaseModel):
    id: uuid.UUID
    name: str
    bullets: str
    currency: str
    monthly_fee: str
    monthly_fee_usd: str  # the same number (the seed's API compatibility)
    cards_included: int
    max_active_cards: int
    card_issue_fee: str
    card_issue_fee_usd: str
    topup_fee_percent: str
    fx_fee_percent: str

    @classmethod
    def of(cls, p: Plan) -> ClientPlanOut:
        shown = rendered(p)
        return cls(id=p.id, **{k: shown[k] for k in CLIENT_PLAN_FIELDS})


class CatalogPlanOut(ClientPlanOut):
    is_current: bool  # the caller's own plan

    @classmethod
    def mark(cls, p: Plan, current: uuid.UUID | None) -> CatalogPlanOut:
        return cls(**ClientPlanOut.of(p).model_dump(), is_current=p.id == current)


class CatalogOut(BaseModel):
    data: list[CatalogPlanOut]
    current_plan_id: uuid.UUID | None


class SubscriptionOut(BaseModel):
    """The seed's "Subscription (API)" block; fees in EUR."""

    plan: str | None  # the plan's name
    plan_id: uuid.UUID | None
    status: str  # pending | active | past_due | none
    cards_included: int
    active_cards: int
    slots_left: int
    max_active: int
    next_card_issue_fee: str
    can_create_cards: bool
    current_period_start: str | None
    current_period_end: str | None
    fee_charged: str
    fee_currency: str | None

    @classmethod
    def of(cls, s: SubscriptionSummary) -> SubscriptionOut:
        return cls(
            plan=s.plan.name if s.plan else None,
            plan_id=s.plan.id if s.plan else None,
            status=s.status,
            cards_included=s.cards_included,
            active_cards=s.active_cards,
            slots_left=s.slots_left,
            max_active=s.max_active,
            next_card_issue_fee=format_cents(s.next_card_issue_fee),
            can_create_cards=s.can_create_cards,
            current_period_start=iso(s.current_period_start),
            current_period_end=iso(s.current_period_end),
            fee_charged=format_cents(s.fee_charged),
            fee_currency=s.fee_currency,
        )


class WalletOut(BaseModel):
    balance: str
    reserved: str  # held for pending card operations
    available: str


class ReferenceOut(BaseModel):
    type: str
    id: str | None


class LedgerLineOut(BaseModel):
    """One posting on the client's wallet, with its ledger transaction."""

    id: uuid.UUID
    transaction_id: uuid.UUID
    kind: str
    amount: str  # signed: + credited to the wallet, - debited
    currency: str
    created_at: str
    note: str | None
    reference: ReferenceOut | None

    @classmethod
    def of(cls, p: LedgerPosting, t: LedgerTransaction) -> LedgerLineOut:
        ref = ReferenceOut(type=t.reference_type, id=t.reference_id) if t.reference_type else None
        return cls(
            id=p.id,
            transaction_id=t.id,
            kind=t.kind,
            amount=format_cents(p.amount),
            currency=p.currency,
            created_at=iso(p.created_at) or "",
            note=t.note,
            reference=ref,
        )


class LedgerPage(BaseModel):
    data: list[LedgerLineOut]
    pagination: Pagination


class SupportOut(BaseModel):
    contact: str
    working_hours: str
    average_reply_time: str


class StateOut(BaseModel):
    client: ClientOut
    plan: ClientPlanOut | None
    subscription: SubscriptionOut
    wallets: dict[str, WalletOut]
    cards: list[CardOut]  # newest first, closed ones included
    ledger: list[LedgerLineOut]  # the latest lines, newest first
    codes_3ds: list[Code3dsOut]  # the last day's 3-D Secure codes, newest first
    fx_rate: str | None  # the USD price of one EUR, null until operators set it
    support: SupportOut


def wallet_out(balance: int, reserved: int) -> WalletOut:
    return WalletOut(
        balance=format_cents(balance),
        reserved=format_cents(reserved),
        available=format_cents(balance - reserved),
    )


def rate_out(micros: int | None) -> str | None:
    return format_rate(micros) if micros is not None else None


class TopupOut(BaseModel):
    topup_id: uuid.UUID
    order_id: uuid.UUID
    address: str
    amount: str  # USDT, 6 decimals
    checkout_url: str
    expires_at: str

    @classmethod
    def of(cls, t: TopupCreated) -> TopupOut:
        return cls(
            topup_id=t.topup.id,
            order_id=t.order_id,
            address=t.address,
            amount=format_usdt(t.amount),
            checkout_url=t.checkout_url,
            expires_at=iso(t.expires_at) or "",
        )


class ConversionOut(BaseModel):
    from_: str = Field(serialization_alias="from")
    to: str
    debited: str  # in `from`
    credited: str  # in `to`, after the fee
    fee: str  # in `to`
    rate: str  # the EUR/USD rate applied (USD per EUR)
    transaction_id: uuid.UUID
