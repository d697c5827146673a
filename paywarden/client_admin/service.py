"""Operators' rules on clients: find, read, change access and notes, assign a plan, top up by
hand, set a demo balance. Every change is audited with the client as target. What the Telegram bot
told the client (its notifications) is read here too.

Manual top-ups (`adjustment`) and demo balances (`demo`) move money: the endpoints let only a
super_admin call them. Demo balances are refused in production (403 `DEMO_DISABLED`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.client_admin import overview
from paywarden.client_admin import repository as repo
from paywarden.client_admin.errors import (
    BelowReserved,
    DemoBalanceDisabled,
    EmptyUpdate,
    IdempotencyKeyMismatch,
    SupportOwnerNotFound,
)
from paywarden.client_admin.filters import ClientFilter
from paywarden.client_ledger import service as client_ledger
from paywarden.client_ledger.service import Line
from paywarden.clients import service as clients
from paywarden.kit.pagination import Page, PageQuery
from paywarden.models import Client, LedgerTransaction
from paywarden.models.clients import ACTIVE, BANNED
from paywarden.models.ledger import ADJUSTMENTS
from paywarden.notifications import service as notifications
from paywarden.notifications.service import ClientNotification
from paywarden.operators import repository as operators
from paywarden.subscriptions import service as subscriptions
from paywarden.wallets import repository as ledger
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Entry, Leg, WalletBalance

MAX_IDEMPOTENCY_KEY = 200
NOTIFICATIONS_SHOWN = 50  # the client page's latest notifications


@dataclass(frozen=True)
class ClientListed:
    client: Client
    plan_name: str | None
    email: str | None


@dataclass(frozen=True)
class MoneyMove:
    entry: Entry | None  # None: nothing needed to move
    kind: str
    currency: str
    amount: int  # cents moved, signed
    wallet: WalletBalance  # after the move


async def search(db: AsyncSession, f: ClientFilter, q: PageQuery) -> Page[ClientListed]:
    rows, total = await repo.search(db, f, q.offset, q.limit)
    emails = await repo.emails_of(db, [c for c, _ in rows])
    items = [ClientListed(c, name, emails.get(c.id)) for c, name in rows]
    return Page(items, q.page, q.limit, total)


async def detail(db: AsyncSession, client_id: uuid.UUID, tz: ZoneInfo) -> overview.ClientOverview:
    return await overview.build(db, await clients.get(db, client_id), tz)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


async def update(
    db: AsyncSession, client_id: uuid.UUID, changes: dict[str, Any], actor: Actor
) -> Client:
    """Apply `changes` (`banned` sets the status); audited with before and after when
    anything changed."""
    if not changes:
        raise EmptyUpdate()
    client = await clients.get(db, client_id)
    wanted = dict(changes)
    if "banned" in wanted:
        wanted["status"] = BANNED if wanted.pop("banned") else ACTIVE
    owner = wanted.get("support_owner_id")
    if owner is not None and await operators.get(db, owner) is None:
        raise SupportOwnerNotFound()
    before = {k: getattr(client, k) for k, v in wanted.items() if getattr(client, k) != v}
    if not before:
        return client
    for field in before:
        setattr(client, field, wanted[field])
    await db.flush()
    audit.record(
        db,
        actor,
        "client.update",
        target_type="client",
        target_id=client.id,
        details={
            "before": {k: _plain(v) for k, v in before.items()},
            "after": {k: _plain(wanted[k]) for k in before},
        },
    )
    return client


async def assign_plan(
    db: AsyncSession, client_id: uuid.UUID, plan_id: uuid.UUID, notes: str | None, actor: Actor
) -> Client:
    """The operator's choice of plan (hidden ones too); charging and auditing are the
    subscription's (`past_due` when the wallets cannot pay)."""
    client = await clients.get(db, client_id)
    await subscriptions.assign_plan(db, client, plan_id, actor, notes)
    return client


async def _wallet_after(db: AsyncSession, client_id: uuid.UUID, currency: str) -> WalletBalance:
    return (await wallets.balances(db, client_id))[currency]


async def manual_topup(
    db: AsyncSession,
    client_id: uuid.UUID,
    currency: str,
    amount: int,
    note: str,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
) -> MoneyMove:
    """Credit the wallet against the adjustments account (kind `adjustment`, audited by the
    ledger). A repeated Idempotency-Key answers the first top-up again, its wallet figures
    included; unless it was the same request (currency, amount, note, operator) it is 409
    `IDEMPOTENCY_KEY_REUSED` and nothing moves."""
    client = await clients.get(db, client_id)
    # Namespaced by client: the same header value for another client is another top-up.
    key = f"admin-topup:{client.id}:{idempotency_key or uuid.uuid4()}"
    if idempotency_key:
        first = await ledger.transaction_by_key(db, key)
        if first is not None:
            return await _replayed_topup(db, client.id, first, currency, amount, note, actor)
    entry = await wallets.adjust(
        db, client.id, currency, amount, idempotency_key=key, actor=actor, note=note
    )
    if entry.replayed:  # a concurrent twin wrote the key first
        first = await ledger.get_transaction(db, entry.id)
        assert first is not None
        return await _replayed_topup(db, client.id, first, currency, amount, note, actor)
    return MoneyMove(
        entry, entry.kind, currency, amount, await _wallet_after(db, client.id, currency)
    )


async def _replayed_topup(
    db: AsyncSession,
    client_id: uuid.UUID,
    first: LedgerTransaction,
    currency: str,
    amount: int,
    note: str,
    actor: Actor,
) -> MoneyMove:
    """The first top-up under the key, exactly as answered then (the wallet figures come from
    its audit entry); 409 unless this request is the same one."""
    accounts = {a.currency: a.id for a in await ledger.client_accounts(db, client_id)}
    legs = await ledger.postings_of(db, first.id)
    same = (
        first.kind == "adjustment"
        and first.note == note
        and first.reference_id == (str(actor.operator_id) if actor.operator_id else None)
        and any(p.account_id == accounts.get(currency) and p.amount == amount for p in legs)
    )
    if not same:
        raise IdempotencyKeyMismatch()
    entry = Entry(first.id, first.kind, first.idempotency_key, first.created_at, replayed=True)
    logged = await audit.of_transaction(db, "ledger.adjustment", client_id, first.id)
    if logged is not None and "balance_after" in logged.details:
        balance, reserved = logged.details["balance_after"], logged.details["reserved_after"]
        wallet = WalletBalance(currency, int(balance), int(reserved))
    else:  # written before the audit kept the figures: the wallet as it is now
        wallet = await _wallet_after(db, client_id, currency)
    return MoneyMove(entry, entry.kind, currency, amount, wallet)


async def set_demo_balance(
    db: AsyncSession,
    client_id: uuid.UUID,
    currency: str,
    amount: int,
    note: str,
    actor: Actor,
    *,
    is_production: bool,
) -> MoneyMove:
    """Post the difference between `amount` and the current balance (kind `demo`).

    Never below what holds reserve (409 `BELOW_RESERVED`); the same balance again moves nothing.
    """
    if is_production:
        raise DemoBalanceDisabled()
    client = await clients.get(db, client_id)
    account = await wallets.wallet(db, client.id, currency)
    # Locked first: a concurrent move cannot land between reading the balance and posting.
    locked = (await ledger.lock_accounts(db, [account]))[account]
    reserved = (await ledger.held_sums(db, [account])).get(account, 0)
    if amount < reserved:
        raise BelowReserved()
    difference = amount - locked.balance
    entry = None
    if difference:
        key = f"admin-demo:{uuid.uuid4()}"
        counter = await wallets.system_account(db, ADJUSTMENTS, currency, spread_key=key)
        entry = await wallets.post(
            db,
            "demo",
            key,
            [Leg(account, currency, difference), Leg(counter, currency, -difference)],
            reference_type="operator" if actor.operator_id else None,
            reference_id=actor.operator_id,
            note=note,
            actor=actor.label,
        )
    audit.record(
        db,
        actor,
        "client.demo_balance",
        target_type="client",
        target_id=client.id,
        details={
            "currency": currency,
            "before": locked.balance,
            "after": amount,
            "amount": difference,
            "note": note,
            "transaction_id": str(entry.id) if entry else None,
        },
    )
    return MoneyMove(entry, "demo", currency, difference, WalletBalance(currency, amount, reserved))


async def ledger_lines(db: AsyncSession, client_id: uuid.UUID, q: PageQuery) -> Page[Line]:
    """The client's wallet postings, newest first (404 for no such client)."""
    client = await clients.get(db, client_id)
    return await client_ledger.lines(db, client.id, q)


@dataclass(frozen=True)
class BotNotifications:
    """What the bot told the client: its latest notifications, newest first, whether the
    client blocked the bot (nothing is sent until it talks to the bot again), and the amount
    under which it asked to hear that a wallet fell low (cents; None: off)."""

    bot_blocked_at: datetime | None
    low_balance_threshold: int | None
    notifications: list[ClientNotification]


async def bot_notifications(
    db: AsyncSession, client_id: uuid.UUID, limit: int = NOTIFICATIONS_SHOWN
) -> BotNotifications:
    """The client's bot notifications (404 for no such client)."""
    client = await clients.get(db, client_id)
    return BotNotifications(
        bot_blocked_at=client.bot_blocked_at,
        low_balance_threshold=client.low_balance_threshold,
        notifications=await notifications.for_client(db, client.id, limit),
    )
