"""Real-time authorization: the issuer asks, we answer from our own books, holding the money.

One database transaction per request: the card's row is locked first (it carries the
month-to-date spend), then the wallet account (by `place_hold`): every writer takes them in
that order, so concurrent authorizations and settlements queue instead of deadlocking, and two
approvals can never both count the same balance or the same room under the monthly limit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import repository as repo
from paywarden.issuer.base import AuthorizationRequest, Decision, DeclineReason
from paywarden.kit.logging import get_logger
from paywarden.models import Card, CardTransaction
from paywarden.models.cards import CARD_ACTIVE
from paywarden.models.clients import BANNED
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import InsufficientFunds

log = get_logger(__name__)

HOLD_REFERENCE = "card_transaction"
# Our own decisions carry this prefix in raw_code: the issuer's codes are kept as they come.
OUR_CODE = "paywarden:"


def spend_month(at: datetime) -> str:
    """The month (UTC, YYYY-MM) a card's spent_this_month counts."""
    return at.strftime("%Y-%m")


def month_spent(card: Card, month: str) -> int:
    """The card's spend in `month`: another month's figure counts as zero (the month rolled)."""
    return card.spent_this_month if card.spend_month == month else 0


def fx_fee(amount: int, currency: str, merchant_currency: str, fx_fee_bps: int | None) -> int:
    """The plan's FX fee on a purchase made in another currency than the card's, rounded up
    to the cent (the business never loses a fraction)."""
    if merchant_currency == currency or not fx_fee_bps:
        return 0
    return -(-amount * fx_fee_bps // 10_000)  # integer ceiling: no float on a money path


def decision_of(tx: CardTransaction) -> Decision:
    """The decision a transaction row stands for (what a repeated request is answered)."""
    if tx.status == "declined":
        return Decision(False, tx.decline_reason or "other")  # type: ignore[arg-type]
    return Decision(True)


async def authorize(
    db: AsyncSession, issuer: str, req: AuthorizationRequest, now: datetime
) -> Decision:
    """Decide one purchase and record it: a card_transactions row, and a hold when approved.

    Idempotent on (issuer, issuer_transaction_id): a repeat gets the first decision. An unknown
    card is declined `card_inactive` with no row (a row needs a card); the decline is logged.
    """
    ctx = await repo.authorization_context(db, issuer, req.issuer_card_id)
    if ctx is None:
        log.warning("authorization_unknown_card", issuer=issuer, card=req.issuer_card_id)
        existing = await repo.transaction(db, issuer, req.issuer_transaction_id)
        return decision_of(existing) if existing else Decision(False, "card_inactive")
    card = ctx.card
    # Looked up under the card's lock: a concurrent repeat of this request has committed.
    existing = await repo.transaction(db, issuer, req.issuer_transaction_id)
    if existing is not None:
        return decision_of(existing)

    fee = fx_fee(req.amount, card.currency, req.merchant_currency, ctx.fx_fee_bps)
    total = req.amount + fee
    tx = CardTransaction(
        id=uuid.uuid4(),
        card_id=card.id,
        client_id=card.client_id,
        issuer=issuer,
        issuer_transaction_id=req.issuer_transaction_id,
        amount=total,
        currency=card.currency,
        fx_fee=fee,
        merchant_amount=req.merchant_amount,
        merchant_currency=req.merchant_currency,
        merchant=(req.merchant or None) and req.merchant[:255],
        mcc=(req.mcc or None) and req.mcc[:4],
        country=(req.country or None) and req.country[:2].upper(),
        three_ds=req.three_ds,
        refunded_amount=0,
        created_at=now,
        updated_at=now,
    )
    reason = await _refusal(db, card, ctx.client_status, ctx.wallet_id, req, tx, now)
    tx.status = "declined" if reason else "approved"
    tx.decline_reason = reason
    tx.raw_code = OUR_CODE + (reason or "approved")
    if req.three_ds:  # the holder passed 3-D Secure for this purchase: its code is spent
        await repo.set_code_status(db, issuer, req.issuer_transaction_id, "used", now)
    repo.add(db, tx)
    await db.flush()
    return Decision(reason is None, reason)


async def _refusal(
    db: AsyncSession,
    card: Card,
    client_status: str,
    wallet_id: uuid.UUID | None,
    req: AuthorizationRequest,
    tx: CardTransaction,
    now: datetime,
) -> DeclineReason | None:
    """Why the purchase is declined, or None after placing its hold and counting its spend."""
    if card.status != CARD_ACTIVE:
        return "card_inactive"
    if client_status == BANNED:
        return "do_not_honor"
    if req.currency != card.currency:  # the issuer bills a card in its own currency only
        log.warning("authorization_currency_mismatch", card=str(card.id), currency=req.currency)
        return "other"
    month = spend_month(now)
    spent = month_spent(card, month)
    if spent + tx.amount > card.monthly_limit:
        return "spending_limit"
    if tx.amount > 0:  # a zero-amount check (card verification) holds nothing
        account = wallet_id or await wallets.wallet(db, card.client_id, card.currency)
        try:
            hold = await wallets.place_hold(
                db, account, tx.amount, reference_type=HOLD_REFERENCE, reference_id=tx.id
            )
        except InsufficientFunds:
            return "insufficient_funds"
        tx.hold_id = hold.id
    card.spend_month = month
    card.spent_this_month = spent + tx.amount
    return None
