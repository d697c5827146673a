"""The bot's notifications, from the events that tell a client something: each handler is
subscribed in `paywarden/subscribers.py` and writes the notification rows in the publisher's
transaction (`service.enqueue`: nothing for a client the bot cannot reach, nothing twice for
one event key). Amounts stay integers in minor units; times are ISO 8601.

The params are what the message says (`bot/messages` renders them per kind); a 3-D Secure
code is never among them: the sender reads it from its sealed row when it sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import events as card_events
from paywarden.card_transactions.events import CodeIssued, PurchaseChanged
from paywarden.kit.time import iso
from paywarden.models import notifications as kinds
from paywarden.notifications import service
from paywarden.subscriptions import events as subscription_events
from paywarden.subscriptions.events import SubscriptionChanged
from paywarden.topups.events import TopupCredited
from paywarden.wallets.events import LowBalance

PURCHASE_KINDS = {
    card_events.APPROVED: kinds.CARD_APPROVED,
    card_events.DECLINED: kinds.CARD_DECLINED,
    card_events.REFUNDED: kinds.CARD_REFUND,
}
SUBSCRIPTION_KINDS = {
    subscription_events.RENEWED: kinds.SUBSCRIPTION_RENEWED,
    subscription_events.PAST_DUE: kinds.SUBSCRIPTION_PAST_DUE,
}


async def codes_issued(db: AsyncSession, issued: Sequence[CodeIssued]) -> None:
    """The code's message, deleted from the chat when the code expires."""
    for e in issued:
        params = {
            "code_id": str(e.code_id),
            "card_last4": e.card_last4,
            "merchant": e.merchant,
            "amount": e.amount,
            "currency": e.currency,
            "expires_at": iso(e.expires_at),
        }
        await service.enqueue(
            db,
            client_id=e.client_id,
            kind=kinds.CODE_3DS,
            key=str(e.code_id),
            params=params,
            delete_at=e.expires_at,
        )


async def purchases_changed(db: AsyncSession, changes: Sequence[PurchaseChanged]) -> None:
    """A purchase approved, declined (with its reason) or refunded."""
    for e in changes:
        params: dict[str, Any] = {
            "card_last4": e.card_last4,
            "merchant": e.merchant,
            "amount": e.amount,
            "currency": e.currency,
        }
        if e.type == card_events.DECLINED:
            params["reason"] = e.reason
        kind = PURCHASE_KINDS[e.type]
        await service.enqueue(db, client_id=e.client_id, kind=kind, key=e.key, params=params)


async def topups_credited(db: AsyncSession, credits: Sequence[TopupCredited]) -> None:
    for e in credits:
        params = {"amount": e.amount, "currency": e.currency, "usdt": e.usdt}
        await service.enqueue(
            db, client_id=e.client_id, kind=kinds.TOPUP_CREDITED, key=str(e.topup_id), params=params
        )


async def subscriptions_changed(db: AsyncSession, changes: Sequence[SubscriptionChanged]) -> None:
    """A period renewed (charged), or a renewal that found no funds."""
    for e in changes:
        params: dict[str, Any] = {"plan": e.plan, "amount": e.amount, "currency": e.currency}
        if e.type == subscription_events.RENEWED:
            params["next_at"] = iso(e.next_at)
        await service.enqueue(
            db,
            client_id=e.client_id,
            kind=SUBSCRIPTION_KINDS[e.type],
            key=f"{e.subscription_id}:{iso(e.period_end)}",
            params=params,
        )


async def low_balances(db: AsyncSession, falls: Sequence[LowBalance]) -> None:
    for e in falls:
        params = {"currency": e.currency, "balance": e.balance, "threshold": e.threshold}
        await service.enqueue(
            db,
            client_id=e.client_id,
            kind=kinds.LOW_BALANCE,
            key=f"{e.transaction_id}:{e.currency}",
            params=params,
        )
