"""Ledger rules: balanced postings, idempotent transactions, non-negative wallets, holds.

`post` is the one way money moves. Its postings sum to zero per currency; a repeated
idempotency key returns the first transaction and writes nothing; a client wallet never goes
below zero available (balance minus active holds) unless an `adjustment` is explicitly allowed
to; the accounts' cached balances move in the same database transaction, under row locks taken
in account-id order. Services never commit: the caller's transaction does. A client wallet
falling below its client's low-balance threshold is published (`wallets/events`).

System accounts (fee revenue, FX, ...) are touched by nearly every transaction. Each is split
into `SYSTEM_SHARDS` rows, a transaction picking one by its idempotency key, so that concurrent
writers don't queue on one hot row; the account's balance is the sum of its shards.
"""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.kit import events as bus
from paywarden.kit.time import utcnow
from paywarden.models import LedgerHold
from paywarden.models.ledger import (
    ADJUSTMENTS,
    CLIENT,
    DECIMALS,
    HELD,
    KINDS,
    POSTED,
    SYSTEM_CODES,
    VOIDED,
    WALLET_CURRENCIES,
)
from paywarden.wallets import repository as repo
from paywarden.wallets.errors import (
    AccountNotFound,
    HoldExceeded,
    HoldNotActive,
    HoldNotFound,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidPosting,
    Unbalanced,
)
from paywarden.wallets.events import LowBalance

SYSTEM_SHARDS = 16
# Only these kinds may take a client wallet below zero available, and only when asked to
# (card_spend: a settlement the issuer has already paid, beyond what we held or authorized).
NEGATIVE_ALLOWED_KINDS = ("adjustment", "card_spend")


@dataclass(frozen=True)
class Leg:
    """One side of a transaction: a signed amount (minor units) on an account."""

    account_id: uuid.UUID
    currency: str
    amount: int  # + credit, - debit


@dataclass(frozen=True)
class Entry:
    """A ledger transaction as written (or as found, when its key was replayed)."""

    id: uuid.UUID
    kind: str
    idempotency_key: str
    created_at: datetime
    replayed: bool


@dataclass(frozen=True)
class WalletBalance:
    currency: str
    balance: int
    reserved: int  # the sum of active holds

    @property
    def available(self) -> int:
        return self.balance - self.reserved


# ---- accounts ------------------------------------------------------------------------------


async def wallet(session: AsyncSession, client_id: uuid.UUID, currency: str) -> uuid.UUID:
    """The id of the client's wallet in `currency` (EUR or USD), created on first use."""
    if currency not in WALLET_CURRENCIES:
        raise InvalidPosting(f"wallets are in {' or '.join(WALLET_CURRENCIES)}, not {currency}")
    return await repo.ensure_client_account(session, client_id, currency)


def shard_for(spread_key: str | None) -> int:
    return zlib.crc32(spread_key.encode()) % SYSTEM_SHARDS if spread_key else 0


async def system_account(
    session: AsyncSession, code: str, currency: str, *, spread_key: str | None = None
) -> uuid.UUID:
    """A shard of the system account `code` in `currency` (picked by `spread_key`, e.g. the
    transaction's idempotency key), created on first use."""
    if code not in SYSTEM_CODES:
        raise InvalidPosting(f"no system account {code}")
    if currency not in DECIMALS:
        raise InvalidPosting(f"unknown currency {currency}")
    return await repo.ensure_system_account(session, code, currency, shard_for(spread_key))


async def system_balance(session: AsyncSession, code: str, currency: str) -> int:
    return await repo.system_balance(session, code, currency)


async def balances(session: AsyncSession, client_id: uuid.UUID) -> dict[str, WalletBalance]:
    """The client's EUR and USD wallets: balance, reserved (held) and available."""
    accounts = {a.currency: a for a in await repo.client_accounts(session, client_id)}
    held = await repo.held_sums(session, [a.id for a in accounts.values()])
    out = {}
    for currency in WALLET_CURRENCIES:
        account = accounts.get(currency)
        if account is None:
            out[currency] = WalletBalance(currency, 0, 0)
        else:
            out[currency] = WalletBalance(currency, account.balance, held.get(account.id, 0))
    return out


# ---- posting -------------------------------------------------------------------------------


def _validate(kind: str, legs: Sequence[Leg], allow_negative: bool) -> None:
    if kind not in KINDS:
        raise InvalidPosting(f"unknown ledger transaction kind {kind!r}")
    if allow_negative and kind not in NEGATIVE_ALLOWED_KINDS:
        raise InvalidPosting(f"a {kind} may not take a wallet below zero")
    if len(legs) < 2:
        raise InvalidPosting("a ledger transaction needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise InvalidPosting("posting amounts are non-zero integers in minor units")
        if leg.currency not in DECIMALS:
            raise InvalidPosting(f"unknown currency {leg.currency}")
        totals[leg.currency] += leg.amount
    off = {c: s for c, s in totals.items() if s}
    if off:
        detail = ", ".join(f"{c} {s:+d}" for c, s in sorted(off.items()))
        raise Unbalanced(f"Ledger postings do not sum to zero per currency ({detail})")


def _entry(found: object, kind: str, replayed: bool) -> Entry:
    from paywarden.models import LedgerTransaction

    assert isinstance(found, LedgerTransaction)
    if found.kind != kind:
        raise IdempotencyKeyReused()
    return Entry(found.id, found.kind, found.idempotency_key, found.created_at, replayed)


async def post(
    session: AsyncSession,
    kind: str,
    idempotency_key: str,
    legs: Sequence[Leg],
    *,
    reference_type: str | None = None,
    reference_id: object | None = None,
    note: str | None = None,
    actor: str | None = None,
    allow_negative: bool = False,
    _released: Mapping[uuid.UUID, int] | None = None,
) -> Entry:
    """Write one balanced transaction, exactly once per idempotency key.

    Raises before writing anything when the legs don't balance, an account is unknown or in
    another currency, or a client wallet would go below zero available.
    """
    _validate(kind, legs, allow_negative)
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidPosting("an idempotency key of 1 to 255 characters is required")
    deltas: dict[uuid.UUID, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account_id] += leg.amount

    # Lock first: a concurrent writer of the same key, touching the same accounts, has then
    # committed, and a replay is recognised below (by the lookup, or by the insert's conflict).
    locked = await repo.lock_accounts(session, deltas)
    for leg in legs:
        account = locked.get(leg.account_id)
        if account is None:
            raise AccountNotFound()
        if account.currency != leg.currency:
            raise InvalidPosting(f"a {leg.currency} posting on a {account.currency} account")

    debited_wallets = [
        a for a in locked.values() if a.kind == CLIENT and deltas[a.id] < 0 and not allow_negative
    ]
    if debited_wallets:
        held = await repo.held_sums(session, [a.id for a in debited_wallets])
        released = _released or {}
        for account in debited_wallets:
            reserved = held.get(account.id, 0) - released.get(account.id, 0)
            if account.balance + deltas[account.id] - reserved < 0:
                # A replay of a debit that went through is not an overdraft: answer it.
                existing = await repo.transaction_by_key(session, idempotency_key)
                if existing is not None:
                    return _entry(existing, kind, replayed=True)
                raise InsufficientFunds()

    now = utcnow()
    transaction_id = uuid.uuid4()
    wrote = await repo.insert_transaction(
        session,
        {
            "id": transaction_id,
            "kind": kind,
            "idempotency_key": idempotency_key,
            "reference_type": reference_type,
            "reference_id": str(reference_id) if reference_id is not None else None,
            "note": note,
            "actor": actor,
            "created_at": now,
        },
    )
    if not wrote:  # a replay: the key was written before (or just now by a racing writer)
        found = await repo.transaction_by_key(session, idempotency_key)
        return _entry(found, kind, replayed=True)
    await repo.insert_postings(
        session,
        [
            {
                "id": uuid.uuid4(),
                "transaction_id": transaction_id,
                "account_id": leg.account_id,
                "currency": leg.currency,
                "amount": leg.amount,
                "created_at": now,
            }
            for leg in legs
        ],
    )
    await repo.add_to_balances(session, deltas)
    await _tell_low_balances(session, transaction_id, locked.values(), deltas)
    return Entry(transaction_id, kind, idempotency_key, now, replayed=False)


async def _tell_low_balances(
    session: AsyncSession,
    transaction_id: uuid.UUID,
    accounts: Iterable[repo.LockedAccount],
    deltas: Mapping[uuid.UUID, int],
) -> None:
    """Publish the client wallets this transaction took below their client's threshold.

    Cheap on the hot path: the thresholds are read (one small query) only when a client wallet
    with something in it went down; a wallet already at zero or below cannot cross (a
    threshold is positive)."""
    falling = [a for a in accounts if a.kind == CLIENT and deltas[a.id] < 0 and a.balance > 0]
    if not falling:
        return
    owners = [a.client_id for a in falling if a.client_id is not None]
    thresholds = await repo.low_balance_thresholds(session, owners)
    crossed = []
    for a in falling:
        if a.client_id is None or a.client_id not in thresholds:
            continue
        threshold, after = thresholds[a.client_id], a.balance + deltas[a.id]
        if a.balance >= threshold > after:
            crossed.append(LowBalance(transaction_id, a.client_id, a.currency, after, threshold))
    await bus.publish_all(session, crossed)


async def adjust(
    session: AsyncSession,
    client_id: uuid.UUID,
    currency: str,
    amount: int,
    *,
    idempotency_key: str,
    actor: Actor,
    note: str | None = None,
    kind: str = "adjustment",
    allow_negative: bool = False,
) -> Entry:
    """Credit (or debit) a client's wallet against the adjustments account, audited."""
    account = await wallet(session, client_id, currency)
    counter = await system_account(session, ADJUSTMENTS, currency, spread_key=idempotency_key)
    entry = await post(
        session,
        kind,
        idempotency_key,
        [Leg(account, currency, amount), Leg(counter, currency, -amount)],
        reference_type="operator" if actor.operator_id else None,
        reference_id=actor.operator_id,
        note=note,
        actor=actor.label,
        allow_negative=allow_negative,
    )
    if not entry.replayed:
        # The wallet as it stood right after: what the operator saw, and what a replay of the
        # same request answers again.
        after = (await balances(session, client_id))[currency]
        audit.record(
            session,
            actor,
            f"ledger.{kind}",
            target_type="client",
            target_id=client_id,
            details={
                "currency": currency,
                "amount": amount,
                "note": note,
                "transaction_id": str(entry.id),
                "balance_after": after.balance,
                "reserved_after": after.reserved,
            },
        )
    return entry


# ---- holds ---------------------------------------------------------------------------------


async def place_hold(
    session: AsyncSession,
    account_id: uuid.UUID,
    amount: int,
    *,
    reference_type: str | None = None,
    reference_id: object | None = None,
) -> LedgerHold:
    """Reserve `amount` of a client wallet; refused when more than the available balance."""
    if type(amount) is not int or amount <= 0:
        raise InvalidPosting("a hold is a positive integer in minor units")
    account = (await repo.lock_accounts(session, [account_id])).get(account_id)
    if account is None:
        raise AccountNotFound()
    if account.kind != CLIENT:
        raise InvalidPosting("holds are placed on client wallets")
    held = (await repo.held_sums(session, [account_id])).get(account_id, 0)
    if account.balance - held < amount:
        raise InsufficientFunds()
    hold = LedgerHold(
        account_id=account_id,
        amount=amount,
        status=HELD,
        reference_type=reference_type,
        reference_id=str(reference_id) if reference_id is not None else None,
    )
    repo.add_hold(session, hold)
    await session.flush()
    return hold


def checked_hold(
    hold_id: uuid.UUID,
    account_id: uuid.UUID,
    amount: int,
    *,
    reference_type: str,
    reference_id: object,
) -> dict[str, object]:
    """The row of a hold its caller has checked against the wallet's available balance, the
    wallet's row locked, and writes itself (an authorization reads the balance and the holds
    with its card, and writes the hold with its own row). Anything else calls `place_hold`."""
    if type(amount) is not int or amount <= 0:
        raise InvalidPosting("a hold is a positive integer in minor units")
    return {
        "id": hold_id,
        "account_id": account_id,
        "amount": amount,
        "status": HELD,
        "reference_type": reference_type,
        "reference_id": str(reference_id),
    }


async def _active_hold(session: AsyncSession, hold_id: uuid.UUID) -> LedgerHold:
    hold = await repo.lock_hold(session, hold_id)
    if hold is None:
        raise HoldNotFound()
    return hold


async def post_hold(
    session: AsyncSession,
    hold_id: uuid.UUID,
    amount: int,
    counter_account_id: uuid.UUID,
    *,
    kind: str,
    idempotency_key: str,
    reference_type: str | None = None,
    reference_id: object | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> Entry:
    """Settle a hold: move `amount` (at most the held amount) from the wallet to the counter
    account, and close the hold. A replay of the same key returns the first transaction."""
    hold = await _active_hold(session, hold_id)
    if hold.status != HELD:
        existing = await repo.transaction_by_key(session, idempotency_key)
        if hold.status == POSTED and existing is not None and existing.id == hold.transaction_id:
            return _entry(existing, kind, replayed=True)
        raise HoldNotActive()
    if type(amount) is not int or amount <= 0:
        raise InvalidPosting("a posted amount is a positive integer in minor units")
    if amount > hold.amount:
        raise HoldExceeded()
    account = await repo.get_account(session, hold.account_id)
    assert account is not None
    entry = await post(
        session,
        kind,
        idempotency_key,
        [
            Leg(hold.account_id, account.currency, -amount),
            Leg(counter_account_id, account.currency, amount),
        ],
        reference_type=reference_type or hold.reference_type,
        reference_id=reference_id if reference_id is not None else hold.reference_id,
        note=note,
        actor=actor,
        _released={hold.account_id: hold.amount},
    )
    if entry.replayed:  # the key was used before for something else
        raise IdempotencyKeyReused()
    await repo.close_hold(
        session, hold, POSTED, utcnow(), transaction_id=entry.id, posted_amount=amount
    )
    return entry


async def void_hold(session: AsyncSession, hold_id: uuid.UUID) -> LedgerHold:
    """Release a hold; voiding a voided hold is a no-op, a posted one an error."""
    hold = await _active_hold(session, hold_id)
    if hold.status == VOIDED:
        return hold
    if hold.status != HELD:
        raise HoldNotActive()
    await repo.close_hold(session, hold, VOIDED, utcnow())
    return hold


# ---- the check -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckReport:
    balances: list[repo.BalanceRow]  # cached balance differs from the postings' sum
    unbalanced: list[tuple[uuid.UUID, str, int]]  # transaction, currency, sum
    currency_mismatches: list[tuple[uuid.UUID, str, str]]  # posting, its currency, account's
    incomplete: list[uuid.UUID]  # transactions with fewer than two postings

    @property
    def ok(self) -> bool:
        return not (self.balances or self.unbalanced or self.currency_mismatches or self.incomplete)

    def lines(self) -> list[str]:
        out = []
        for b in self.balances:
            owner = f"client {b.client_id}" if b.kind == CLIENT else f"{b.code}#{b.shard}"
            out.append(
                f"balance {b.account_id} ({owner} {b.currency}): cached {b.cached}, "
                f"postings {b.computed}, difference {b.cached - b.computed:+d}"
            )
        for t, currency, total in self.unbalanced:
            out.append(f"unbalanced transaction {t}: {currency} postings sum to {total:+d}")
        for p, pc, ac in self.currency_mismatches:
            out.append(f"posting {p} in {pc} on a {ac} account")
        out.extend(f"transaction {t} has fewer than two postings" for t in self.incomplete)
        return out


async def check(session: AsyncSession) -> CheckReport:
    """Recompute every account's balance from its postings and check every transaction."""
    return CheckReport(
        balances=await repo.balance_differences(session),
        unbalanced=await repo.unbalanced_transactions(session),
        currency_mismatches=await repo.currency_mismatches(session),
        incomplete=await repo.empty_transactions(session),
    )


async def rebuild_balances(session: AsyncSession, actor: Actor) -> list[repo.BalanceRow]:
    """Set each differing cached balance to the sum of its postings (audited); returns them."""
    suspects = await repo.balance_differences(session)
    if not suspects:
        return []
    # Lock, then recompute in a new statement: writers of these accounts have committed, and
    # no new posting lands on them until this transaction ends.
    await repo.lock_accounts(session, [s.account_id for s in suspects])
    fixed = await repo.balance_differences(session, [s.account_id for s in suspects])
    await repo.set_balances(session, {b.account_id: b.computed for b in fixed})
    for b in fixed:
        audit.record(
            session,
            actor,
            "ledger.rebuild_balance",
            target_type="ledger_account",
            target_id=b.account_id,
            details={"currency": b.currency, "cached": b.cached, "computed": b.computed},
        )
    return fixed
