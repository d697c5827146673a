"""Fees priced in EUR (subscriptions, card issue fees), paid from the EUR wallet or, when EUR is
short, from the USD wallet at the operators' rate, rounded up to the cent (the house never
loses a fraction). One posting route for every such fee, so they are all charged alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models.ledger import EUR, FEE_REVENUE, USD
from paywarden.plans import service as plans
from paywarden.plans.errors import FxRateNotSet
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import InsufficientFunds
from paywarden.wallets.service import Entry, Leg


@dataclass(frozen=True)
class FeePaid:
    currency: str  # the wallet it came from
    amount: int  # in cents of `currency`
    entry: Entry


def usd_for_eur(cents: int, rate: Decimal) -> int:
    """USD cents for EUR cents at `rate` (USD per EUR), rounded up."""
    return int((Decimal(cents) * rate).to_integral_value(ROUND_CEILING))


async def payable_routes(
    db: AsyncSession, client_id: uuid.UUID, eur_cents: int
) -> list[tuple[str, int]]:
    """Where a fee of `eur_cents` can come from now, in order: EUR, else USD at the rate.
    Empty when neither wallet can pay. EUR short, USD held and no rate set: FX_RATE_NOT_SET
    (409), since the rate, not the client's money, is what is missing (with no USD at all,
    the client is simply short of funds)."""
    available = {c: b.available for c, b in (await wallets.balances(db, client_id)).items()}
    routes = [(EUR, eur_cents)]
    if available[EUR] < eur_cents:
        try:
            routes.append((USD, usd_for_eur(eur_cents, await plans.current_rate(db))))
        except FxRateNotSet:
            if available[USD] > 0:
                raise
    return [(c, amount) for c, amount in routes if available[c] >= amount]


async def charge(
    db: AsyncSession,
    client_id: uuid.UUID,
    eur_cents: int,
    *,
    kind: str,
    idempotency_key: str,
    reference_type: str,
    reference_id: object,
    note: str,
    actor: str,
) -> FeePaid | None:
    """Post the fee (exactly once per key) to fee revenue in the wallet's currency; None when
    neither wallet can pay, and then nothing is written (FxRateNotSet: see payable_routes)."""
    for currency, amount in await payable_routes(db, client_id, eur_cents):
        revenue = await wallets.system_account(
            db, FEE_REVENUE, currency, spread_key=idempotency_key
        )
        try:
            entry = await wallets.post(
                db,
                kind,
                idempotency_key,
                [
                    Leg(await wallets.wallet(db, client_id, currency), currency, -amount),
                    Leg(revenue, currency, amount),
                ],
                reference_type=reference_type,
                reference_id=reference_id,
                note=note,
                actor=actor,
            )
        except InsufficientFunds:  # spent meanwhile: the next route, if any
            continue
        return FeePaid(currency, amount, entry)
    return None
