"""Virtual cards: issuing (with the plan's issue fee) and the lifecycle, through the issuer.

Issuing checks, in order: banned (403 CLIENT_BANNED), `can_create_cards` off (403
CARDS_DISABLED), subscription not active (409 SUBSCRIPTION_INACTIVE), non-closed cards at the
cap (the client's override, else the plan's: 409 CARD_LIMIT_REACHED), and the issue fee's funds
(402 INSUFFICIENT_FUNDS; 409 FX_RATE_NOT_SET when only USD could pay and no rate is set).
The fee is due once the client's non-closed cards already fill the plan's `cards_included`
(the same rule as the subscription summary's `next_card_issue_fee`); it is taken from the EUR
wallet or, when EUR is short, the USD equivalent at the operators' rate rounded up, as a
`card_issue_fee` transaction keyed `card_issue:<card id>` to `fee_revenue`.

The issuer is called first, with our new card's id as its reference (a retry is not a second
card); the checks are then repeated under the client's row lock and the card and its fee are
written together. When that write fails (funds spent or the cap reached meanwhile), the card is
closed at the issuer again and the error reported.

A caller may give the new card's id (the client app's form key): a repeated id answers the
client's card made under it, without calling the issuer or charging again; another client's id
is 404.

Lifecycle: active <-> frozen, either -> closed (final: 409 INVALID_STATE after it). The issuer
is called first; only when it agreed does our row change. Asking for the state a card is
already in is a no-op. Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.cards import repository as repo
from paywarden.cards.errors import (
    CardLimitReached,
    CardNotFound,
    CardsDisabled,
    InsufficientFunds,
    InvalidCardState,
    IssuerFailed,
    IssuerUnavailable,
    SubscriptionInactive,
)
from paywarden.clients import service as clients
from paywarden.clients.errors import ClientNotFound
from paywarden.issuer.base import CardDetails, IssuedCard, IssuerAdapter, IssuerError
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.models import Card, Client
from paywarden.models.cards import CARD_ACTIVE, CARD_CLOSED, CARD_FROZEN, CARD_STATUSES
from paywarden.models.ledger import EUR, USD
from paywarden.models.subscriptions import ACTIVE as SUBSCRIPTION_ACTIVE
from paywarden.subscriptions import service as subscriptions
from paywarden.subscriptions.service import SubscriptionSummary
from paywarden.wallets import fees
from paywarden.wallets.service import Entry

log = get_logger(__name__)
T = TypeVar("T")

CARD_CURRENCIES = (EUR, USD)
MAX_MONTHLY_LIMIT = 10_000_000  # 100,000.00 in the card's currency
MAX_LABEL = 64


def month_of(moment: datetime) -> str:
    """The UTC month a card's spend counter counts (`YYYY-MM`)."""
    return moment.strftime("%Y-%m")


def spent_this_month(card: Card, now: datetime | None = None) -> int:
    """The card's month-to-date spend: its counter while it counts this month, else zero."""
    return card.spent_this_month if card.spend_month == month_of(now or utcnow()) else 0


def fee_key(card_id: uuid.UUID) -> str:
    return f"card_issue:{card_id}"


# ---- the issuer ----------------------------------------------------------------------------


async def _call(call: Callable[[], Awaitable[T]]) -> T:
    """One issuer call, its refusal turned into our 502s (retryable or not)."""
    try:
        return await call()
    except IssuerError as exc:
        if exc.retryable:
            raise IssuerUnavailable() from exc
        raise IssuerFailed(f"The card issuer refused the request: {exc}") from exc


async def _create_at_issuer(
    adapter: IssuerAdapter, card_id: uuid.UUID, currency: str, limit: int, label: str | None
) -> IssuedCard:
    async def create() -> IssuedCard:
        return await adapter.create_card(
            currency=currency, monthly_limit=limit, label=label, reference=str(card_id)
        )

    try:
        return await create()
    except IssuerError as exc:
        if not exc.retryable:
            raise IssuerFailed(f"The card issuer refused the request: {exc}") from exc
    # One retry with the same reference: the issuer answers with the card it may have made.
    return await _call(create)


async def _compensate(adapter: IssuerAdapter, card_id: uuid.UUID, issuer_card_id: str) -> None:
    """Close a card the issuer made but we could not record; an orphan is logged for ops."""
    try:
        await adapter.close(issuer_card_id)
    except Exception as exc:  # the original error is what the caller must see
        log.error(
            "card_compensation_failed",
            card_id=str(card_id),
            issuer_card_id=issuer_card_id,
            error=type(exc).__name__,
        )
    else:
        log.warning("card_compensated", card_id=str(card_id), issuer_card_id=issuer_card_id)


# ---- issuing -------------------------------------------------------------------------------


def validate_request(currency: str, monthly_limit: int, label: str | None) -> None:
    """The schemas check these too; this keeps callers other than the API honest."""
    if currency not in CARD_CURRENCIES:
        raise ValidationFailed("currency must be EUR or USD")
    if not 0 < monthly_limit <= MAX_MONTHLY_LIMIT:
        raise ValidationFailed("monthly_limit must be above 0 and at most 100000.00")
    if label is not None and len(label) > MAX_LABEL:
        raise ValidationFailed(f"label must be at most {MAX_LABEL} characters")


async def _checked_summary(db: AsyncSession, client: Client) -> SubscriptionSummary:
    """Run the issuing checks (module docstring); the summary holds the fee due."""
    clients.ensure_can_change(client)
    if not client.can_create_cards:
        raise CardsDisabled()
    summary = await subscriptions.summary(db, client)
    if summary.status != SUBSCRIPTION_ACTIVE:
        raise SubscriptionInactive()
    if summary.active_cards >= summary.max_active:
        raise CardLimitReached()
    return summary


@dataclass(frozen=True)
class IssueQuote:
    """What issuing a card costs the client now (shown before it confirms)."""

    summary: SubscriptionSummary  # slots left, the cap, the fee in EUR cents
    fee_currency: str | None  # the wallet the fee would come from now; None: free
    fee_amount: int  # in cents of `fee_currency` (USD at the rate when EUR is short)


async def quote(db: AsyncSession, client: Client) -> IssueQuote:
    """The issuing checks and the fee's route, with issue's refusals (no issuer call)."""
    summary = await _checked_summary(db, client)
    fee = summary.next_card_issue_fee
    if not fee:
        return IssueQuote(summary, None, 0)
    routes = await fees.payable_routes(db, client.id, fee)
    if not routes:
        raise InsufficientFunds()  # no card at the issuer for who cannot pay
    currency, amount = routes[0]
    return IssueQuote(summary, currency, amount)


async def _made_under(db: AsyncSession, client_id: uuid.UUID, card_id: uuid.UUID) -> Card | None:
    """The client's card already made under a caller's id; another client's id is 404."""
    card = await repo.get(db, card_id)
    if card is not None and card.client_id != client_id:
        raise CardNotFound()
    return card


async def _charge_fee(db: AsyncSession, client: Client, card_id: uuid.UUID, fee: int) -> Entry:
    paid = await fees.charge(
        db,
        client.id,
        fee,
        kind="card_issue_fee",
        idempotency_key=fee_key(card_id),
        reference_type="card",
        reference_id=card_id,
        note="card issue fee",
        actor=client.external_user_id,
    )
    if paid is None:
        raise InsufficientFunds()
    return paid.entry


async def _record(
    db: AsyncSession,
    issuer: str,
    client_id: uuid.UUID,
    card_id: uuid.UUID,
    issued: IssuedCard,
    currency: str,
    limit: int,
    label: str | None,
) -> Card:
    """The card and its fee, written under the client's lock after the checks are repeated."""
    client = await repo.lock_client(db, client_id)
    if client is None:
        raise ClientNotFound()
    if (made := await repo.get(db, card_id)) is not None:
        return made  # the same id issued meanwhile (a double tap): that card, charged once
    fee = (await _checked_summary(db, client)).next_card_issue_fee
    entry = await _charge_fee(db, client, card_id, fee) if fee else None
    now = utcnow()
    card = Card(
        id=card_id,
        client_id=client.id,
        issuer=issuer,
        issuer_card_id=issued.issuer_card_id,
        currency=currency,
        monthly_limit=limit,
        spend_month=month_of(now),
        spent_this_month=0,
        status=issued.status if issued.status in CARD_STATUSES else CARD_ACTIVE,
        last4=issued.last4,
        label=label,
        issue_fee=fee,
        issue_transaction_id=entry.id if entry else None,
        created_at=now,
        updated_at=now,
    )
    repo.add(db, card)
    await db.flush()  # constraint failures surface here, while we can still compensate
    return card


async def issue(
    db: AsyncSession,
    adapter: IssuerAdapter,
    client: Client,
    currency: str,
    monthly_limit: int,
    label: str | None,
    actor: Actor | None = None,
    card_id: uuid.UUID | None = None,
) -> Card:
    """Issue a card for the client (by the client, or by an operator when `actor` is given).

    `card_id`: the caller's id for the new card, so that a repeat answers the card made under
    it (module docstring); a fresh id when none is given."""
    validate_request(currency, monthly_limit, label)
    clients.ensure_can_change(client)
    if card_id is not None and (made := await _made_under(db, client.id, card_id)) is not None:
        return made
    await quote(db, client)
    new_id = card_id or uuid.uuid4()
    issued = await _create_at_issuer(adapter, new_id, currency, monthly_limit, label)
    if card_id is not None and issued.status == CARD_CLOSED:
        # The caller's id came back after its card was closed again (a failed try): start over.
        raise IssuerFailed("The card issuer answered a closed card for this request")
    try:
        card = await _record(
            db, adapter.name, client.id, new_id, issued, currency, monthly_limit, label
        )
    except Exception:
        await _compensate(adapter, new_id, issued.issuer_card_id)
        raise
    if card.client_id != client.id:
        raise CardNotFound()  # another client's card under this id: never compensate it
    _audit(
        db,
        actor,
        "card.issue",
        card,
        currency=currency,
        monthly_limit=monthly_limit,
        label=label,
        issue_fee=card.issue_fee,
    )
    return card


# ---- reading -------------------------------------------------------------------------------


async def get(db: AsyncSession, card_id: uuid.UUID) -> Card:
    card = await repo.get(db, card_id)
    if card is None:
        raise CardNotFound()
    return card


async def of_client(db: AsyncSession, client: Client, card_id: uuid.UUID) -> Card:
    """One of the client's own cards: another client's is as missing as none (404)."""
    card = await repo.get(db, card_id)
    if card is None or card.client_id != client.id:
        raise CardNotFound()
    return card


async def list_for(db: AsyncSession, client_id: uuid.UUID) -> Sequence[Card]:
    return await repo.by_client(db, client_id)


async def details(adapter: IssuerAdapter, card: Card) -> CardDetails:
    """PAN, expiry and CVV from the issuer, now: never stored here, never logged."""
    if card.status == CARD_CLOSED:
        raise InvalidCardState("A closed card has no details")
    return await _call(lambda: adapter.card_details(card.issuer_card_id))


# ---- lifecycle -----------------------------------------------------------------------------


async def _owner_can_change(db: AsyncSession, card: Card) -> None:
    """Unfreezing or a new limit makes a card usable again: never for a banned client."""
    clients.ensure_can_change(await clients.get(db, card.client_id))


def _audit(
    db: AsyncSession, actor: Actor | None, action: str, card: Card, **details: object
) -> None:
    if actor is None:
        return
    audit.record(
        db,
        actor,
        action,
        target_type="client",
        target_id=card.client_id,
        details={"card_id": str(card.id), "issuer_card_id": card.issuer_card_id, **details},
    )


async def _locked_open(db: AsyncSession, card: Card) -> Card:
    """The card's row, locked after the issuer's call; closed meanwhile: nothing to change."""
    locked = await repo.get(db, card.id, lock=True)
    if locked is None:
        raise CardNotFound()
    if locked.status == CARD_CLOSED:
        raise InvalidCardState()
    return locked


# The lifecycle actions and the status each moves a card to. An action's name is also its
# issuer adapter call, its API path segment and its audit action (`card.<name>`).
LIFECYCLE: dict[str, str] = {"freeze": CARD_FROZEN, "unfreeze": CARD_ACTIVE, "close": CARD_CLOSED}


async def move(
    action: str, db: AsyncSession, adapter: IssuerAdapter, card: Card, actor: Actor | None = None
) -> Card:
    """Freeze, unfreeze or close the card at the issuer, then in its row (audited with an actor).

    A card already in the action's status is returned untouched; a closed card changes no more.
    """
    target = LIFECYCLE[action]
    if card.status == CARD_CLOSED:
        raise InvalidCardState("The card is already closed" if target == CARD_CLOSED else None)
    if target == CARD_ACTIVE:
        await _owner_can_change(db, card)
    if card.status == target:
        return card  # already there: nothing to ask the issuer
    before = card.status
    call: Callable[[str], Awaitable[None]] = getattr(adapter, action)
    await _call(lambda: call(card.issuer_card_id))
    locked = await _locked_open(db, card)
    now = utcnow()
    locked.status = target
    locked.updated_at = now
    if target == CARD_CLOSED:
        locked.closed_at = now
    await db.flush()
    _audit(db, actor, f"card.{action}", locked, before=before, after=target)
    return locked


# (db, adapter, card, actor=None) -> Card, as the console calls them.
freeze = partial(move, "freeze")
unfreeze = partial(move, "unfreeze")
close = partial(move, "close")


async def set_limit(
    db: AsyncSession,
    adapter: IssuerAdapter,
    card: Card,
    monthly_limit: int,
    actor: Actor | None = None,
) -> Card:
    """A new monthly limit (it may be below this month's spend: purchases are then declined)."""
    if card.status == CARD_CLOSED:
        raise InvalidCardState()
    validate_request(card.currency, monthly_limit, None)
    await _owner_can_change(db, card)
    if card.monthly_limit == monthly_limit:
        return card
    before = card.monthly_limit
    await _call(lambda: adapter.set_limit(card.issuer_card_id, monthly_limit))
    locked = await _locked_open(db, card)
    locked.monthly_limit = monthly_limit
    locked.updated_at = utcnow()
    await db.flush()
    _audit(db, actor, "card.limit_change", locked, before=before, after=monthly_limit)
    return locked
