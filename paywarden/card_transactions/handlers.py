"""What each issuer event does to our books. Called by the inbox, inside a savepoint.

Every handler is safe to run twice: it checks the transaction's status under the card's lock
(card row, then transaction row, then the wallet through the ledger: the authorization's lock
order) and posts with idempotency keys derived from our transaction id or the event id.
A missing prerequisite (a refund before its settlement) raises NotReady: the inbox retries.
What the client is told (a code, a decline, a refund) is published (`card_transactions/events`)
only when the event changed something: a replay finds the change made and publishes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import SYSTEM
from paywarden.card_transactions import events
from paywarden.card_transactions import repository as repo
from paywarden.card_transactions.errors import EventRejected, NotReady
from paywarden.card_transactions.events import CodeIssued, PurchaseChanged
from paywarden.card_transactions.service import (
    HOLD_REFERENCE,
    fx_fee,
    month_spent,
    spend_month,
)
from paywarden.issuer.base import IssuerEventData
from paywarden.kit import events as bus
from paywarden.kit.crypto import keys_of
from paywarden.kit.logging import get_logger
from paywarden.models import Card, CardTransaction
from paywarden.models.cards import CARD_CLOSED
from paywarden.models.ledger import FEE_REVENUE, ISSUER_FLOAT
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg

log = get_logger(__name__)

CODE_TTL = timedelta(minutes=5)  # when the issuer does not say
FORCED = "forced_settlement"  # raw_code of a settlement booked without our authorization


async def handle(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """Apply one event; returns a word on what was done (for the log)."""
    match e.kind:
        case "transaction.settled":
            return await _settled(db, issuer, e, now)
        case "transaction.reversed" | "transaction.expired":
            return await _released(db, issuer, e, now)
        case "transaction.refunded":
            return await _refunded(db, issuer, e, now)
        case "transaction.declined":
            return await _declined(db, issuer, e, now)
        case "3ds.code":
            return await _code(db, issuer, e, now)
        case "card.updated":
            return await _card_updated(db, issuer, e, now)
    return "ignored"


# ---- locking -------------------------------------------------------------------------------


def _tx_id(e: IssuerEventData) -> str:
    if not e.issuer_transaction_id:
        raise EventRejected(f"a {e.kind} event without a transaction id")
    return e.issuer_transaction_id


def _unseen_transaction(
    card: Card,
    issuer: str,
    e: IssuerEventData,
    status: str,
    amount: int,
    fee: int,
    merchant_currency: str,
    now: datetime,
) -> CardTransaction:
    """The row of a purchase we first hear of through an event (no authorization came)."""
    return CardTransaction(
        id=uuid.uuid4(),
        card_id=card.id,
        client_id=card.client_id,
        issuer=issuer,
        issuer_transaction_id=_tx_id(e),
        status=status,
        amount=amount,
        currency=card.currency,
        fx_fee=fee,
        merchant_amount=e.merchant_amount if e.merchant_amount is not None else e.amount or 0,
        merchant_currency=merchant_currency,
        merchant=e.merchant[:255] if e.merchant else None,
        mcc=e.mcc[:4] if e.mcc else None,
        country=e.country[:2].upper() if e.country else None,
        refunded_amount=0,
        created_at=e.occurred_at or now,
        updated_at=now,
    )


async def _card(db: AsyncSession, issuer: str, e: IssuerEventData) -> Card:
    if not e.issuer_card_id:
        raise EventRejected(f"a {e.kind} event without a card id")
    card = await repo.card_by_issuer_id(db, issuer, e.issuer_card_id, lock=True)
    if card is None:
        raise EventRejected(f"unknown card {e.issuer_card_id}")
    return card


async def _locked(
    db: AsyncSession, issuer: str, e: IssuerEventData
) -> tuple[Card | None, CardTransaction | None]:
    """The event's transaction and its card, both locked (card first), or (None, None)."""
    found = await repo.transaction(db, issuer, _tx_id(e))
    if found is None:
        return None, None
    card = await repo.lock_card(db, found.card_id)
    return card, await repo.transaction(db, issuer, found.issuer_transaction_id, lock=True)


def _unspend(card: Card, tx: CardTransaction, amount: int) -> None:
    """Take `amount` off the card's month-to-date spend, if it still counts the tx's month."""
    month = spend_month(tx.created_at)
    if card.spend_month == month:
        card.spent_this_month = max(0, card.spent_this_month - amount)


# ---- settlement ----------------------------------------------------------------------------


async def _settled(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    card, tx = await _locked(db, issuer, e)
    if tx is not None and tx.status in ("settled", "refunded"):
        return "already settled"
    if tx is None or tx.status != "approved":
        return await _forced(db, issuer, e, tx, now)
    assert card is not None
    base = tx.amount - tx.fx_fee
    settled = e.amount if e.amount is not None else base
    # The FX fee follows the settled amount in the authorization's proportion.
    fee = -(-settled * tx.fx_fee // base) if tx.fx_fee and base else 0  # integer ceiling
    total = settled + fee
    held, hold = 0, 0
    if tx.hold_id is not None:
        hold = await _hold_amount(db, tx.hold_id)
        held = min(settled, hold)
        key = f"card_spend:{tx.id}"
        float_account = await wallets.system_account(db, ISSUER_FLOAT, tx.currency, spread_key=key)
        if held > 0:
            await wallets.post_hold(
                db,
                tx.hold_id,
                held,
                float_account,
                kind="card_spend",
                idempotency_key=key,
                reference_type=HOLD_REFERENCE,
                reference_id=tx.id,
                actor="issuer",
            )
        else:
            await wallets.void_hold(db, tx.hold_id)
    # The fee, and whatever the issuer settled beyond the hold, leave the wallet in one more
    # transaction: past the hold it may overdraw the wallet (the issuer has paid already).
    await _post_rest(
        db, tx, card.client_id, settled - held, fee, f"card_spend:{tx.id}:rest", total > hold
    )
    tx.status = "settled"
    tx.settled_amount = total
    tx.settled_at = e.occurred_at or now
    tx.updated_at = now
    delta = total - tx.amount
    if delta > 0 and card.spend_month == spend_month(tx.created_at):
        card.spent_this_month += delta
    elif delta < 0:
        _unspend(card, tx, -delta)
    return "settled"


async def _hold_amount(db: AsyncSession, hold_id: uuid.UUID) -> int:
    from paywarden.models import LedgerHold

    hold = await db.get(LedgerHold, hold_id)
    if hold is None:
        raise EventRejected("the authorization's hold is missing")
    return hold.amount


async def _post_rest(
    db: AsyncSession,
    tx: CardTransaction,
    client_id: uuid.UUID,
    excess: int,
    fee: int,
    key: str,
    beyond_hold: bool,
) -> None:
    if excess <= 0 and fee <= 0:
        return
    wallet = await wallets.wallet(db, client_id, tx.currency)
    legs = [Leg(wallet, tx.currency, -(excess + fee))]
    if excess > 0:
        account = await wallets.system_account(db, ISSUER_FLOAT, tx.currency, spread_key=key)
        legs.append(Leg(account, tx.currency, excess))
    if fee > 0:
        account = await wallets.system_account(db, FEE_REVENUE, tx.currency, spread_key=key)
        legs.append(Leg(account, tx.currency, fee))
    await wallets.post(
        db,
        "card_spend",
        key,
        legs,
        reference_type=HOLD_REFERENCE,
        reference_id=tx.id,
        note="FX fee" if excess <= 0 else "settled beyond the authorization",
        actor="issuer",
        allow_negative=beyond_hold,
    )


async def _forced(
    db: AsyncSession,
    issuer: str,
    e: IssuerEventData,
    tx: CardTransaction | None,
    now: datetime,
) -> str:
    """A settlement we did not authorize (or declined, or released): the issuer has paid the
    merchant, so the client's wallet pays the issuer, below zero if it must. Booked explicitly:
    the row says `forced_settlement`, the audit log and the log say so too."""
    if e.amount is None:
        raise EventRejected("a settlement without an amount")
    card = await _card(db, issuer, e) if tx is None else await repo.lock_card(db, tx.card_id)
    assert card is not None
    if tx is None:
        _, plan = await repo.client_and_plan(db, card.client_id)
        merchant_currency = e.merchant_currency or e.currency or card.currency
        fee = fx_fee(e.amount, card.currency, merchant_currency, plan and plan.fx_fee_bps)
        tx = _unseen_transaction(
            card, issuer, e, "settled", e.amount + fee, fee, merchant_currency, now
        )
        repo.add(db, tx)
        await db.flush()
    else:
        fee = tx.fx_fee
    previous = tx.status
    total = e.amount + fee
    key = f"card_spend:{tx.id}"
    wallet = await wallets.wallet(db, card.client_id, card.currency)
    legs = [Leg(wallet, card.currency, -total)]
    float_account = await wallets.system_account(db, ISSUER_FLOAT, card.currency, spread_key=key)
    legs.append(Leg(float_account, card.currency, e.amount))
    if fee:
        fees = await wallets.system_account(db, FEE_REVENUE, card.currency, spread_key=key)
        legs.append(Leg(fees, card.currency, fee))
    entry = await wallets.post(
        db,
        "card_spend",
        key,
        legs,
        reference_type=HOLD_REFERENCE,
        reference_id=tx.id,
        note="settlement without an authorization",
        actor="issuer",
        allow_negative=True,
    )
    tx.status = "settled"
    tx.raw_code = FORCED
    tx.settled_amount = total
    tx.settled_at = e.occurred_at or now
    tx.updated_at = now
    month = spend_month(now)
    card.spent_this_month = month_spent(card, month) + total
    card.spend_month = month
    details = {
        "card_transaction_id": str(tx.id),
        "issuer_transaction_id": tx.issuer_transaction_id,
        "amount": total,
        "currency": card.currency,
        "previous_status": previous,
        "ledger_transaction_id": str(entry.id),
    }
    audit.record(
        db,
        SYSTEM,
        "card_transaction.forced_settlement",
        target_type="client",
        target_id=card.client_id,
        details=details,
    )
    log.warning("forced_settlement", **details)
    return FORCED


# ---- releases, refunds, declines -----------------------------------------------------------


async def _released(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """A reversal or expiry: the hold is voided, the month's spend given back."""
    status = "reversed" if e.kind == "transaction.reversed" else "expired"
    card, tx = await _locked(db, issuer, e)
    if tx is None:
        raise NotReady(f"transaction {e.issuer_transaction_id} not known yet")
    assert card is not None
    if tx.status in ("reversed", "expired", "declined"):
        return f"already {tx.status}"
    if tx.status != "approved":
        raise EventRejected(f"a {status} event for a {tx.status} transaction")
    if tx.hold_id is not None:
        await wallets.void_hold(db, tx.hold_id)
    _unspend(card, tx, tx.amount)
    tx.status = status
    tx.raw_code = e.raw_code or tx.raw_code
    tx.updated_at = now
    return status


async def _refunded(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """Money back for a settled purchase, credited from the issuer float (partial refunds add
    up, each refund once: the ledger key is the refund's id, or the event's)."""
    card, tx = await _locked(db, issuer, e)
    if tx is None or tx.status == "approved":
        raise NotReady(f"transaction {e.issuer_transaction_id} not settled yet")
    if tx.status not in ("settled", "refunded"):
        raise EventRejected(f"a refund of a {tx.status} transaction")
    assert card is not None
    assert tx.settled_amount is not None
    amount = e.amount if e.amount is not None else tx.settled_amount - tx.refunded_amount
    if amount <= 0 or tx.refunded_amount + amount > tx.settled_amount:
        raise EventRejected("the refund exceeds what was settled")
    # The issuer's refund id when it gives one (a re-sent refund under a new event id is the
    # same refund), else the event's id.
    key = f"card_refund:{issuer}:{e.extra.get('refund_id') or e.event_id}"
    wallet = await wallets.wallet(db, card.client_id, tx.currency)
    float_account = await wallets.system_account(db, ISSUER_FLOAT, tx.currency, spread_key=key)
    entry = await wallets.post(
        db,
        "card_refund",
        key,
        [Leg(float_account, tx.currency, -amount), Leg(wallet, tx.currency, amount)],
        reference_type=HOLD_REFERENCE,
        reference_id=tx.id,
        actor="issuer",
    )
    if not entry.replayed:
        tx.refunded_amount += amount
        tx.status = "refunded"
        tx.updated_at = now
        await _tell(db, events.REFUNDED, e.event_id, card, tx, amount)
    return "refunded"


async def _declined(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """The issuer declined on its own: the row says so (created if we never saw the purchase),
    a hold we placed is released; a 3-D Secure failure declines the purchase's code."""
    reason = e.decline_reason or "other"
    card, tx = await _locked(db, issuer, e)
    news = tx is None or tx.status == "approved"  # else declined already: told then
    if tx is None:
        card = await _card(db, issuer, e)
        amount = e.amount or 0
        merchant_currency = e.merchant_currency or e.currency or card.currency
        tx = _unseen_transaction(card, issuer, e, "declined", amount, 0, merchant_currency, now)
        repo.add(db, tx)
    elif tx.status == "approved":
        assert card is not None
        if tx.hold_id is not None:
            await wallets.void_hold(db, tx.hold_id)
        _unspend(card, tx, tx.amount)
    elif tx.status != "declined":
        raise EventRejected(f"a decline of a {tx.status} transaction")
    tx.status = "declined"
    tx.decline_reason = reason
    tx.raw_code = e.raw_code or tx.raw_code
    tx.updated_at = now
    if reason == "3ds_failed":
        await repo.set_code_status(db, issuer, tx.issuer_transaction_id, "declined", now)
    await db.flush()
    if news:
        assert card is not None
        await _tell(db, events.DECLINED, str(tx.id), card, tx, tx.amount, reason)
    return "declined"


async def _tell(
    db: AsyncSession,
    type_: str,
    key: str,
    card: Card,
    tx: CardTransaction,
    amount: int,
    reason: str | None = None,
) -> None:
    """Publish a purchase's change, for the client's message."""
    change = PurchaseChanged(
        type=type_,
        key=key,
        client_id=card.client_id,
        card_last4=card.last4,
        merchant=tx.merchant,
        amount=amount,
        currency=tx.currency,
        reason=reason,
    )
    await bus.publish(db, change)


# ---- codes and cards -----------------------------------------------------------------------


def code_reference(e: IssuerEventData) -> str:
    """The purchase a 3-D Secure code is for (codes_3ds.issuer_reference)."""
    return (e.issuer_transaction_id or str(e.extra.get("reference") or e.event_id))[:128]


async def _code(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """Keep a 3-D Secure code for the client to read (the code itself is never logged), as a
    Fernet token; a code already past its time is not kept at all."""
    if not e.code:
        raise EventRejected("a 3ds.code event without a code")
    card = await _card(db, issuer, e)
    reference = code_reference(e)
    amount = e.merchant_amount if e.merchant_amount is not None else e.amount
    currency = e.merchant_currency or e.currency or card.currency
    expires_at = e.code_expires_at or now + CODE_TTL
    live = expires_at > now
    code_id = uuid.uuid4()
    kept = await repo.insert_code(
        db,
        {
            "id": code_id,
            "card_id": card.id,
            "client_id": card.client_id,
            "issuer": issuer,
            "issuer_reference": reference,
            "code": keys_of(db).encrypt(e.code[:16]) if live else None,
            "merchant": e.merchant[:255] if e.merchant else None,
            "amount": amount or 0,
            "currency": currency[:3],
            "status": "pending" if live else "expired",
            "expires_at": expires_at,
            "created_at": now,
            "updated_at": now,
        },
    )
    if kept and live:  # a repeated event stored nothing: the client was told the first time
        issued = CodeIssued(
            code_id=code_id,
            client_id=card.client_id,
            card_last4=card.last4,
            merchant=e.merchant[:255] if e.merchant else None,
            amount=amount or 0,
            currency=currency[:3],
            expires_at=expires_at,
        )
        await bus.publish(db, issued)
    return "code kept"


async def _card_updated(db: AsyncSession, issuer: str, e: IssuerEventData, now: datetime) -> str:
    """The issuer changed a card on its side (e.g. closed it): our row follows."""
    if e.card_status is None:
        raise EventRejected("a card.updated event without a status")
    card = await _card(db, issuer, e)
    if card.status == CARD_CLOSED and e.card_status != CARD_CLOSED:
        raise EventRejected("a closed card does not reopen")
    if card.status != e.card_status:
        card.status = e.card_status
        card.updated_at = now
        if e.card_status == CARD_CLOSED:
            card.closed_at = e.occurred_at or now
    return f"card {e.card_status}"
