"""USDT top-ups of a client's USD wallet, paid as orders of the internal Cards merchant.

The Cards product is a merchant of the gateway ("PayWarden Cards", `is_internal`): created at
start (insert-or-get on its unique name, so replicas may race), without webhook URL and never
editable from the merchants API. A top-up is a normal gateway order of that merchant (same
address derivation, expiry and scanner) with its `topups` row.

The credit, when the order reaches `confirmed` (`on_orders_changed`, subscribed to the orders'
`order.confirmed` and `order.expired` in `paywarden/subscribers.py`, runs in the scanner's
transaction): `r`, the order's `amount_received` (what
really arrived, more than asked when overpaid), at USDT_USD_RATE gives `gross`, USD cents
rounded DOWN; the plan's top-up fee is `fee = ceil(gross * topup_fee_bps / 10000)` (rounded UP:
the house never loses a cent); the client gets `gross - fee`. One `topup` ledger transaction,
key `topup:<order_id>`, whose postings sum to zero per currency:

    USDT: usdt_received -r,  fx +(r - rem),  rounding +rem
    USD:  fx -gross,         client +(gross - fee),  fee_revenue +fee

where `rem` is the micro-USDT worth less than a cent (`r - ceil(gross / rate)`), kept on the
rounding account; zero legs are left out. Exactly once: the top-up row is locked and must be
uncredited, and the key makes any replay a no-op. The credit is published (`topup.credited`,
for the client's message), and a pending or past-due subscription is then charged in the same
transaction.

An expired order marks its top-up `expired`: an underpaid order that expired credits nothing
(the USDT stays on its address, swept as usual; an operator may credit it by hand).
"""

from __future__ import annotations

import secrets
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.checkout import service as checkout
from paywarden.clients import service as clients
from paywarden.config import Settings
from paywarden.kit import events as bus
from paywarden.kit.crypto import keys_of
from paywarden.kit.errors import NotFound
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.time import utcnow
from paywarden.merchants import keys
from paywarden.models import Client, Merchant, Order, Topup
from paywarden.models.ledger import FEE_REVENUE, FX, ROUNDING, USD, USDT, USDT_RECEIVED
from paywarden.models.topups import CREDITED, EXPIRED, PENDING
from paywarden.orders import events as order_events
from paywarden.orders import service as orders
from paywarden.orders.errors import DuplicateExternalId
from paywarden.orders.events import OrderChanged
from paywarden.orders.service import NewOrder
from paywarden.plans import repository as plans_repo
from paywarden.plans import service as plans
from paywarden.subscriptions import service as subscriptions
from paywarden.topups import repository as repo
from paywarden.topups.errors import TopupAmountOutOfRange
from paywarden.topups.events import TopupCredited
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import IdempotencyKeyReused
from paywarden.wallets.service import Leg

if TYPE_CHECKING:  # the process's settings: only read here
    from paywarden.context import GatewayContext

INTERNAL_MERCHANT_NAME = "PayWarden Cards"
# Used only when an operator's merchant already took the name above.
FALLBACK_MERCHANT_NAME = "PayWarden Cards (internal)"
USDT_UNIT = 1_000_000  # micro-USDT per USDT
MIN_USDT = USDT_UNIT
ORDER_TTL_SECONDS = 3600  # as the merchant API's default
BPS = 10_000
MICRO_PER_CENT = 10_000  # micro-USDT in one cent at a rate of 1


@dataclass(frozen=True)
class TopupConfig:
    usdt_usd_rate: Decimal = Decimal("1")  # USD per USDT
    max_usdt: int = 100_000 * USDT_UNIT  # micro-USDT


_config = TopupConfig()
# The internal merchant's id per database engine: it never changes once created, so the order
# hook answers "not a top-up" for ordinary orders without a query.
_internal_ids: weakref.WeakKeyDictionary[Engine, uuid.UUID] = weakref.WeakKeyDictionary()
# System account shards per engine, learnt at start: they never go away, and a credit needs
# five of them (two round trips each to ensure one) on the scanner's hot path.
_system_ids: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str, int], uuid.UUID]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class TopupCreated:
    topup: Topup
    order_id: uuid.UUID
    address: str
    amount: int  # micro-USDT
    checkout_url: str
    expires_at: datetime


def configure(settings: Settings) -> None:
    """This process's USDT_USD_RATE and TOPUP_MAX_USDT."""
    global _config
    _config = TopupConfig(
        usdt_usd_rate=settings.usdt_usd_rate, max_usdt=settings.topup_max_usdt * USDT_UNIT
    )


def config() -> TopupConfig:
    return _config


async def prepare(db: AsyncSession, settings: Settings) -> uuid.UUID:
    """At a process's start (its own transaction): read the settings, make sure the internal
    merchant exists, and learn the system accounts a credit posts to."""
    configure(settings)
    merchant_id = await ensure_internal_merchant(db)
    _internal_ids[db.get_bind()] = merchant_id
    await warm_system_accounts(db)
    return merchant_id


CREDIT_ACCOUNTS = (
    (USDT_RECEIVED, USDT),
    (FX, USDT),
    (ROUNDING, USDT),
    (FX, USD),
    (FEE_REVENUE, USD),
)


async def warm_system_accounts(db: AsyncSession) -> None:
    """Create every shard of the accounts a credit touches and remember their ids for this
    engine. Only from a transaction that commits before credits run (a process's start): an
    id cached from a transaction that rolled back would name no account."""
    _system_ids[db.get_bind()] = await wallets.repo.ensure_system_accounts(
        db,
        (
            (code, currency, shard)
            for code, currency in CREDIT_ACCOUNTS
            for shard in range(wallets.SYSTEM_SHARDS)
        ),
    )


async def ensure_internal_merchant(db: AsyncSession) -> uuid.UUID:
    """The internal merchant's id, created when missing (race-safe across replicas). Not
    cached here: the caller's transaction may yet roll back (`prepare` caches it)."""
    found = await repo.internal_merchant_id(db)
    for name in (INTERNAL_MERCHANT_NAME, FALLBACK_MERCHANT_NAME):
        if found is not None:
            break
        await repo.insert_merchant_unless_named(
            db,
            {
                "id": uuid.uuid4(),
                "name": name,
                # Nobody holds a key of it: its orders are made in-process.
                "api_key_hash": keys.key_hash(keys.new_api_key()),
                "api_key_prefix": "internal",
                "webhook_secret": keys_of(db).encrypt(secrets.token_urlsafe(32)),
                "webhook_url": None,
                "is_active": True,
                "is_internal": True,
            },
        )
        row = await repo.merchant_by_name(db, name)
        found = row.id if row is not None and row.is_internal else None
    if found is None:  # pragma: no cover - both names taken by operators' merchants
        raise RuntimeError(f"cannot create the internal merchant {INTERNAL_MERCHANT_NAME!r}")
    return found


async def internal_merchant_id(db: AsyncSession) -> uuid.UUID | None:
    """Cached per engine; one query per call only until the merchant exists."""
    engine = db.get_bind()
    known = _internal_ids.get(engine)
    if known is None:
        known = await repo.internal_merchant_id(db)
        if known is not None:
            _internal_ids[engine] = known
    return known


async def _internal_merchant(db: AsyncSession) -> Merchant:
    merchant_id = await internal_merchant_id(db)
    merchant = await db.get(Merchant, merchant_id) if merchant_id else None
    if merchant is None:  # not made at start (or gone): made now, with this transaction
        merchant = await db.get(Merchant, await ensure_internal_merchant(db))
    assert merchant is not None
    return merchant


async def create(
    db: AsyncSession,
    gateway: GatewayContext,
    client: Client,
    amount_usdt: int,
    *,
    base_url: str,
    topup_id: uuid.UUID | None = None,
) -> TopupCreated:
    """A top-up of `amount_usdt` micro-USDT: a gateway order of the internal merchant.

    `topup_id`, the caller's own (a form's idempotency key), makes a retry answer the first
    top-up: its order's external_id names it, and the orders' create is idempotent on that.
    The same id with another amount, or another client's id: 409 IDEMPOTENCY_KEY_REUSED.

    403 CLIENT_BANNED; 400 VALIDATION_ERROR outside 1 USDT .. TOPUP_MAX_USDT.
    """
    clients.ensure_can_change(client)
    if type(amount_usdt) is not int or not MIN_USDT <= amount_usdt <= _config.max_usdt:
        raise TopupAmountOutOfRange(
            f"A top-up is between 1 and {_config.max_usdt // USDT_UNIT} USDT"
        )
    merchant = await _internal_merchant(db)
    topup_id = topup_id or uuid.uuid4()
    try:
        order, made = await orders.create(
            db,
            gateway,
            merchant,
            NewOrder(
                external_id=f"topup-{topup_id}",
                amount=amount_usdt,
                callback_url=None,
                expires_in=ORDER_TTL_SECONDS,
                metadata={"topup_id": str(topup_id), "client_id": str(client.id)},
            ),
        )
    except DuplicateExternalId as exc:  # the id's order was asked with other figures
        raise IdempotencyKeyReused() from exc
    if not made:  # a retry: the order's top-up was written with it
        first = await repo.by_order(db, order.id)
        if first is None:  # pragma: no cover - written in the order's transaction
            raise NotFound("Top-up not found")
        return _created(first, order, base_url)
    topup = Topup(
        id=topup_id,
        client_id=client.id,
        order_id=order.id,
        amount_usdt=amount_usdt,
        status=PENDING,
        created_at=order.created_at,
    )
    repo.add(db, topup)
    await db.flush()
    return _created(topup, order, base_url)


def _created(topup: Topup, order: Order, base_url: str) -> TopupCreated:
    return TopupCreated(
        topup=topup,
        order_id=order.id,
        address=order.address,
        amount=order.amount_expected,
        checkout_url=f"{base_url}/pay/{order.id}",
        expires_at=order.expires_at,
    )


@dataclass(frozen=True)
class Credit:
    gross: int  # USD cents before the fee
    fee: int  # USD cents
    remainder: int  # micro-USDT worth less than a cent

    @property
    def net(self) -> int:
        return self.gross - self.fee


def credit_for(received: int, rate: Decimal, fee_bps: int) -> Credit:
    """The USD credit of `received` micro-USDT at `rate` USD per USDT (see the module)."""
    gross = int((Decimal(received) * rate / MICRO_PER_CENT).to_integral_value(ROUND_FLOOR))
    used = int((Decimal(gross) * MICRO_PER_CENT / rate).to_integral_value(ROUND_CEILING))
    fee = int((Decimal(gross * fee_bps) / BPS).to_integral_value(ROUND_CEILING))
    return Credit(gross, fee, received - min(used, received))


async def _topup_fee_bps(db: AsyncSession, client: Client) -> int:
    plan = await plans_repo.get(db, client.plan_id) if client.plan_id else None
    plan = plan or await plans.default_plan(db)
    return plan.topup_fee_bps if plan else 0


async def on_orders_changed(db: AsyncSession, changes: Sequence[OrderChanged]) -> None:
    """The bus's call: internal orders confirmed are credited, expired ones closed; other
    merchants' orders return at once (a cached id, no query)."""
    for change in changes:
        if change.type == order_events.CONFIRMED:
            await on_order_confirmed(db, change.order)
        elif change.type == order_events.EXPIRED:
            await on_order_expired(db, change.order)


async def on_order_confirmed(db: AsyncSession, order: Order) -> None:
    """Credit the top-up of a confirmed internal order, exactly once (see the module)."""
    if order.merchant_id != await internal_merchant_id(db):
        return
    topup = await repo.by_order(db, order.id, lock=True)
    if topup is None or topup.status == CREDITED or order.amount_received <= 0:
        return
    client = await clients.get(db, topup.client_id)
    received = order.amount_received
    credit = credit_for(received, _config.usdt_usd_rate, await _topup_fee_bps(db, client))
    key = f"topup:{order.id}"

    known = _system_ids.get(db.get_bind(), {})

    async def system(code: str, currency: str) -> uuid.UUID:
        found = known.get((code, currency, wallets.shard_for(key)))
        return found or await wallets.system_account(db, code, currency, spread_key=key)

    legs = [
        Leg(await system(USDT_RECEIVED, USDT), USDT, -received),
        Leg(await system(FX, USDT), USDT, received - credit.remainder),
        Leg(await system(ROUNDING, USDT), USDT, credit.remainder),
    ]
    if credit.gross:
        legs += [
            Leg(await system(FX, USD), USD, -credit.gross),
            Leg(await wallets.wallet(db, client.id, USD), USD, credit.net),
            Leg(await system(FEE_REVENUE, USD), USD, credit.fee),
        ]
    entry = await wallets.post(
        db,
        "topup",
        key,
        [leg for leg in legs if leg.amount],
        reference_type="order",
        reference_id=order.id,
        note=f"USDT top-up {topup.id}",
        actor="system",
    )
    topup.status = CREDITED
    topup.received_usdt = received
    topup.gross_cents = credit.gross
    topup.fee_cents = credit.fee
    topup.credited_cents = credit.net
    topup.transaction_id = entry.id
    topup.credited_at = utcnow()
    await db.flush()
    await bus.publish(db, TopupCredited(topup.id, client.id, credit.net, USD, received))
    # Funds arrived: a new (or lapsed) client's subscription is paid now if it can be.
    await subscriptions.charge_unpaid(db, client)


async def on_order_expired(db: AsyncSession, order: Order) -> None:
    """An internal order expired: its pending top-up is `expired` (nothing credited)."""
    if order.merchant_id != await internal_merchant_id(db):
        return
    topup = await repo.by_order(db, order.id, lock=True)
    if topup is not None and topup.status == PENDING:
        topup.status = EXPIRED
        await db.flush()


async def list_for_client(db: AsyncSession, client_id: uuid.UUID, page: PageQuery) -> Page[Topup]:
    """The client's top-ups, newest first."""
    rows, total = await repo.page_for_client(db, client_id, offset=page.offset, limit=page.limit)
    return Page(items=rows, page=page.page, limit=page.limit, total=total)


async def latest_for_client(db: AsyncSession, client_id: uuid.UUID) -> Topup | None:
    return await repo.latest_for_client(db, client_id)


# What the client sees of a top-up, by its order's state on the checkout page and its own row.
WAITING = "waiting"  # send the funds
CONFIRMING = "confirming"  # the transfer is on chain, waiting for finality (or the credit)
# CREDITED and EXPIRED as the row's statuses.
FINAL_STATES = (CREDITED, EXPIRED)


@dataclass(frozen=True)
class TopupProgress:
    topup: Topup
    state: str  # waiting | confirming | credited | expired
    address: str
    amount: int  # micro-USDT to send
    received: int  # micro-USDT seen so far
    expires_at: datetime

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


async def for_client(db: AsyncSession, client_id: uuid.UUID, topup_id: uuid.UUID) -> Topup:
    """The client's own top-up; another client's, or none: 404 NOT_FOUND (the same answer)."""
    topup = await repo.get(db, topup_id)
    if topup is None or topup.client_id != client_id:
        raise NotFound("Top-up not found")
    return topup


async def progress(db: AsyncSession, client_id: uuid.UUID, topup_id: uuid.UUID) -> TopupProgress:
    """Where the client's top-up stands: the checkout's view of its order (a pending order
    past its time is over for the payer before the expiry job runs), then the credit."""
    topup = await for_client(db, client_id, topup_id)
    order = await checkout.status(db, str(topup.order_id))
    if topup.status in FINAL_STATES:
        state = topup.status
    elif order.expired:
        state = EXPIRED
    elif order.state in (checkout.SEEN, checkout.DONE):
        state = CONFIRMING
    else:
        state = WAITING
    return TopupProgress(
        topup=topup,
        state=state,
        address=order.address,
        amount=topup.amount_usdt,
        received=order.received_units,
        expires_at=order.expires_at,
    )
