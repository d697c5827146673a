"""Real-time authorization: the issuer asks, we answer from our own books, holding the money.

One database transaction per request, and the hot path's few statements are Core, no entity
loaded: one reads the decision's whole context with the card's row (it carries the
month-to-date spend) and the wallet's row locked, card first, as every writer takes them, so
concurrent authorizations and settlements queue instead of deadlocking, and two approvals can
never both count the same balance or the same room under the monthly limit. Then the hold, the
transaction's row and the card's new spend are written (one statement on PostgreSQL), and a
fresh decision is published (`card_transactions/events`) for the client's message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import events
from paywarden.card_transactions import repository as repo
from paywarden.card_transactions.events import PurchaseChanged
from paywarden.card_transactions.repository import AuthorizationContext
from paywarden.issuer.base import AuthorizationRequest, Decision, DeclineReason
from paywarden.kit import events as bus
from paywarden.kit.logging import get_logger
from paywarden.kit.pagination import Page, PageQuery
from paywarden.models import CardTransaction
from paywarden.models.cards import CARD_ACTIVE
from paywarden.models.clients import BANNED
from paywarden.wallets import service as wallets

log = get_logger(__name__)

HOLD_REFERENCE = "card_transaction"
# Our own decisions carry this prefix in raw_code: the issuer's codes are kept as they come.
OUR_CODE = "paywarden:"


class MonthSpend(Protocol):
    """A card's month-to-date spend: the row, or an authorization's context."""

    @property
    def spend_month(self) -> str | None: ...

    @property
    def spent_this_month(self) -> int: ...


def spend_month(at: datetime) -> str:
    """The month (UTC, YYYY-MM) a card's spent_this_month counts."""
    return at.strftime("%Y-%m")


def month_spent(card: MonthSpend, month: str) -> int:
    """The card's spend in `month`: another month's figure counts as zero (the month rolled)."""
    return card.spent_this_month if card.spend_month == month else 0


def fx_fee(amount: int, currency: str, merchant_currency: str, fx_fee_bps: int | None) -> int:
    """The plan's FX fee on a purchase made in another currency than the card's, rounded up
    to the cent (the business never loses a fraction)."""
    if merchant_currency == currency or not fx_fee_bps:
        return 0
    return -(-amount * fx_fee_bps // 10_000)  # integer ceiling: no float on a money path


def decision_of(status: str, decline_reason: str | None) -> Decision:
    """The decision a recorded transaction stands for (what a repeated request is answered)."""
    if status == "declined":
        return Decision(False, decline_reason or "other")  # type: ignore[arg-type]
    return Decision(True)


async def authorize(
    db: AsyncSession, issuer: str, req: AuthorizationRequest, now: datetime
) -> Decision:
    """Decide one purchase and record it: a card_transactions row, and a hold when approved.

    Idempotent on (issuer, issuer_transaction_id): a repeat gets the first decision. An unknown
    card is declined `card_inactive` with no row (a row needs a card); the decline is logged.
    """
    ctx = await _context(db, issuer, req)
    if ctx is None:
        log.warning("authorization_unknown_card", issuer=issuer, card=req.issuer_card_id)
        recorded = await repo.recorded_decision(db, issuer, req.issuer_transaction_id)
        return decision_of(*recorded) if recorded else Decision(False, "card_inactive")
    # Read under the card's lock: a concurrent repeat of this request has committed.
    if ctx.recorded is not None:
        return decision_of(*ctx.recorded)

    fee = fx_fee(req.amount, ctx.currency, req.merchant_currency, ctx.fx_fee_bps)
    total = req.amount + fee
    month = spend_month(now)
    reason = _refusal(ctx, req, total, month)
    tx_id, hold = uuid.uuid4(), None
    if reason is None and total > 0:  # a zero-amount check (card verification) holds nothing
        hold = wallets.checked_hold(
            uuid.uuid4(), ctx.wallet_id, total, reference_type=HOLD_REFERENCE, reference_id=tx_id
        )
    if req.three_ds:  # the holder passed 3-D Secure for this purchase: its code is spent
        await repo.set_code_status(db, issuer, req.issuer_transaction_id, "used", now)
    spend = None
    if reason is None and (total or ctx.spend_month != month):  # else the card's row stays
        spend = repo.Spend(ctx.card_id, month, month_spent(ctx, month) + total)
    tx = {
        "id": tx_id,
        "card_id": ctx.card_id,
        "client_id": ctx.client_id,
        "issuer": issuer,
        "issuer_transaction_id": req.issuer_transaction_id,
        "status": "declined" if reason else "approved",
        "decline_reason": reason,
        "raw_code": OUR_CODE + (reason or "approved"),
        "amount": total,
        "currency": ctx.currency,
        "fx_fee": fee,
        "merchant_amount": req.merchant_amount,
        "merchant_currency": req.merchant_currency,
        "merchant": (req.merchant or None) and req.merchant[:255],
        "mcc": (req.mcc or None) and req.mcc[:4],
        "country": (req.country or None) and req.country[:2].upper(),
        "three_ds": req.three_ds,
        "hold_id": hold and hold["id"],
        "refunded_amount": 0,
        "created_at": now,
        "updated_at": now,
    }
    await repo.record_decision(db, tx, hold, spend)
    # A fresh decision only: a repeated request was answered above from the recorded one.
    await bus.publish(
        db,
        PurchaseChanged(
            type=events.DECLINED if reason else events.APPROVED,
            key=str(tx_id),
            client_id=ctx.client_id,
            card_last4=ctx.card_last4,
            merchant=tx["merchant"],
            amount=total,
            currency=ctx.currency,
            reason=reason,
        ),
    )
    return Decision(reason is None, reason)


async def _context(
    db: AsyncSession, issuer: str, req: AuthorizationRequest
) -> AuthorizationContext | None:
    """The decision's context; None for an unknown card. A client without a wallet in the
    card's currency gets one, empty (as a hold would have created it), and is read again."""
    ctx = await repo.authorization_context(
        db, issuer, req.issuer_card_id, req.issuer_transaction_id
    )
    if ctx is not None:
        return ctx
    owner = await repo.card_owner(db, issuer, req.issuer_card_id)
    if owner is None:
        return None
    await wallets.wallet(db, *owner)
    return await repo.authorization_context(
        db, issuer, req.issuer_card_id, req.issuer_transaction_id
    )


def _refusal(
    ctx: AuthorizationContext, req: AuthorizationRequest, amount: int, month: str
) -> DeclineReason | None:
    """Why the purchase of `amount` (its fee included) is declined, or None."""
    if ctx.card_status != CARD_ACTIVE:
        return "card_inactive"
    if ctx.client_status == BANNED:
        return "do_not_honor"
    if req.currency != ctx.currency:  # the issuer bills a card in its own currency only
        log.warning("authorization_currency_mismatch", card=str(ctx.card_id), currency=req.currency)
        return "other"
    if month_spent(ctx, month) + amount > ctx.monthly_limit:
        return "spending_limit"
    if amount > 0 and ctx.balance - ctx.held < amount:
        return "insufficient_funds"
    return None


async def client_transactions(
    db: AsyncSession,
    client_id: uuid.UUID,
    q: PageQuery,
    *,
    card_id: uuid.UUID | None = None,
    status: str | None = None,
) -> Page[CardTransaction]:
    """One page of the client's card transactions, newest first, of one of its cards and in
    one status when given. The filters only narrow: never another client's rows."""
    rows, total = await repo.client_transactions(db, client_id, card_id, status, q.offset, q.limit)
    return Page(rows, q.page, q.limit, total)
