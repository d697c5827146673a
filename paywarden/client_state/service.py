"""What a client's app shows in one call (`GET /api/botcartd/state`).

Cards are every card of the client, newest first, closed ones included; 3-D Secure codes
those of the last day, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import codes as codes_3ds
from paywarden.cards import service as cards
from paywarden.client_ledger import service as client_ledger
from paywarden.client_ledger.service import Line
from paywarden.kit.time import utcnow
from paywarden.models import Card, Client, Plan
from paywarden.models.clients import BANNED
from paywarden.plans import service as plans
from paywarden.subscriptions import service as subscriptions
from paywarden.subscriptions.service import SubscriptionSummary
from paywarden.support import service as support
from paywarden.support.service import Support
from paywarden.wallets import service as wallets
from paywarden.wallets.service import WalletBalance

LATEST_LINES = 20


@dataclass(frozen=True)
class State:
    client: Client
    plan: Plan | None
    subscription: SubscriptionSummary
    wallets: dict[str, WalletBalance]
    cards: Sequence[Card]
    codes_3ds: Sequence[codes_3ds.ClientCode]  # the last day's 3-D Secure codes, newest first
    ledger: Sequence[Line]
    fx_rate_micros: int | None
    support: Support


async def ensure_plan(db: AsyncSession, client: Client) -> None:
    """A client seen without a plan gets the default one (its first fee charged if it can be).
    A banned client is left as it is: it reads, it changes nothing."""
    if client.plan_id is None and client.status != BANNED:
        await subscriptions.ensure(db, client)


async def build(db: AsyncSession, client: Client) -> State:
    summary = await subscriptions.summary(db, client)
    rate = await plans.rate(db)
    return State(
        client=client,
        plan=summary.plan,
        subscription=summary,
        wallets=await wallets.balances(db, client.id),
        cards=await cards.list_for(db, client.id),
        codes_3ds=await codes_3ds.for_client(db, client.id, utcnow()),
        ledger=await client_ledger.latest(db, client.id, LATEST_LINES),
        fx_rate_micros=rate.eur_usd_micros if rate else None,
        support=await support.current(db),
    )
