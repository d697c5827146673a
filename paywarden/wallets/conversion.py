"""A client's USD <-> EUR conversion at the operators' rate, less the plan's FX fee.

One `fx` ledger transaction whose postings balance per currency through the `fx` account:

    source currency: client  -amount,  fx +(amount - rem),  rounding +rem
    target currency: fx      -gross,   client +net,         fee_revenue +fee

`gross` is the converted amount rounded DOWN to the cent; `fee = ceil(gross * fx_fee_bps /
10000)` in the target currency (rounded UP: the house never loses a cent); `net = gross - fee`.
`rem` is the part of the source amount worth less than a cent of the target (what `gross`
does not cover, `amount - ceil(gross in source cents)`), kept on the `rounding` account. Zero
legs are left out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import service as clients
from paywarden.kit.errors import AppError, ValidationFailed
from paywarden.kit.money import parse_rate
from paywarden.models import Client, LedgerTransaction
from paywarden.models.ledger import EUR, FEE_REVENUE, FX, ROUNDING, WALLET_CURRENCIES
from paywarden.plans import repository as plans_repo
from paywarden.plans import service as plans
from paywarden.plans.amounts import RATE_DECIMALS
from paywarden.wallets import repository as ledger
from paywarden.wallets import service as wallets
from paywarden.wallets.errors import IdempotencyKeyReused
from paywarden.wallets.errors import InsufficientFunds as WalletShort
from paywarden.wallets.service import Entry, Leg

BPS = 10_000


class InsufficientFunds(AppError):
    status = 402
    code = "INSUFFICIENT_FUNDS"
    message = "Not enough available balance in the wallet to convert"


@dataclass(frozen=True)
class Conversion:
    entry: Entry
    from_currency: str
    to_currency: str
    debited: int  # cents of from_currency taken from the client
    credited: int  # cents of to_currency given to the client (after the fee)
    fee: int  # cents of to_currency
    rate: Decimal  # the operators' rate: USD per EUR


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_FLOOR))


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_CEILING))


def quote(amount: int, from_currency: str, rate: Decimal, fee_bps: int) -> tuple[int, int, int]:
    """(gross, fee, rem) for converting `amount` cents of `from_currency` (see the module)."""
    if from_currency == EUR:
        gross = _floor(Decimal(amount) * rate)
        used = _ceil(Decimal(gross) / rate)
    else:
        gross = _floor(Decimal(amount) / rate)
        used = _ceil(Decimal(gross) * rate)
    fee = _ceil(Decimal(gross * fee_bps) / BPS)
    return gross, fee, amount - min(used, amount)


@dataclass(frozen=True)
class Quote:
    """What a conversion would do now: the figures `convert` posts (see the module)."""

    from_currency: str
    to_currency: str
    amount: int  # cents of from_currency debited
    rate: Decimal  # the operators' rate: USD per EUR
    fee_bps: int  # the plan's FX fee
    gross: int  # cents of to_currency before the fee
    fee: int
    rem: int  # cents of from_currency kept on the rounding account

    @property
    def net(self) -> int:
        """Cents of to_currency credited."""
        return self.gross - self.fee


def _check_request(from_currency: str, to_currency: str, amount: int) -> None:
    if from_currency not in WALLET_CURRENCIES or to_currency not in WALLET_CURRENCIES:
        raise ValidationFailed(f"currencies are {' and '.join(WALLET_CURRENCIES)}")
    if from_currency == to_currency:
        raise ValidationFailed("from and to must be different currencies")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed("amount must be positive")


async def _quote(
    db: AsyncSession, client: Client, from_currency: str, to_currency: str, amount: int
) -> Quote:
    rate = await plans.current_rate(db)
    fee_bps = await _fee_bps(db, client)
    gross, fee, rem = quote(amount, from_currency, rate, fee_bps)
    if gross - fee <= 0:
        raise ValidationFailed("amount is too small to convert")
    return Quote(from_currency, to_currency, amount, rate, fee_bps, gross, fee, rem)


async def preview(
    db: AsyncSession, client: Client, from_currency: str, to_currency: str, amount: int
) -> Quote:
    """The figures `convert` would post now, writing nothing: the same refusals (400
    VALIDATION_ERROR, 409 FX_RATE_NOT_SET, 402 INSUFFICIENT_FUNDS past the available balance),
    except that a banned client may look (the conversion itself refuses it)."""
    _check_request(from_currency, to_currency, amount)
    figures = await _quote(db, client, from_currency, to_currency, amount)
    available = (await wallets.balances(db, client.id))[from_currency].available
    if amount > available:
        raise InsufficientFunds()
    return figures


async def _fee_bps(db: AsyncSession, client: Client) -> int:
    plan = await plans_repo.get(db, client.plan_id) if client.plan_id else None
    plan = plan or await plans.default_plan(db)
    return plan.fx_fee_bps if plan else 0


async def convert(
    db: AsyncSession,
    client: Client,
    from_currency: str,
    to_currency: str,
    amount: int,
    *,
    idempotency_key: str | None = None,
) -> Conversion:
    """Convert `amount` cents of `from_currency` into `to_currency` for the client.

    403 CLIENT_BANNED; 400 VALIDATION_ERROR for the same or an unknown currency, a non-positive
    amount or one too small to yield a cent after the fee; 409 FX_RATE_NOT_SET; 402
    INSUFFICIENT_FUNDS past the available balance. A repeated `idempotency_key` (per client)
    moves money once and answers the first conversion's figures (`entry.replayed` tells a
    repeat); with other currencies or another amount it is 409 IDEMPOTENCY_KEY_REUSED.
    """
    clients.ensure_can_change(client)
    _check_request(from_currency, to_currency, amount)
    # Scoped to the client: another client's same header value is another conversion.
    key = f"fx:{client.id}:{idempotency_key}" if idempotency_key else f"fx:{uuid.uuid4()}"
    if idempotency_key:
        # A retry is answered from what was written, before today's rate or balance matter.
        first = await ledger.transaction_by_key(db, key)
        if first is not None:
            return await _replay(db, client, first, from_currency, to_currency, amount)
    q = await _quote(db, client, from_currency, to_currency, amount)
    rate, gross, fee, rem, net = q.rate, q.gross, q.fee, q.rem, q.net

    async def system(code: str, currency: str) -> uuid.UUID:
        return await wallets.system_account(db, code, currency, spread_key=key)

    legs = [
        Leg(await wallets.wallet(db, client.id, from_currency), from_currency, -amount),
        Leg(await system(FX, from_currency), from_currency, amount - rem),
        Leg(await system(ROUNDING, from_currency), from_currency, rem),
        Leg(await system(FX, to_currency), to_currency, -gross),
        Leg(await wallets.wallet(db, client.id, to_currency), to_currency, net),
        Leg(await system(FEE_REVENUE, to_currency), to_currency, fee),
    ]
    try:
        entry = await wallets.post(
            db,
            "fx",
            key,
            [leg for leg in legs if leg.amount],
            reference_type="client",
            reference_id=client.id,
            note=_note(from_currency, to_currency, rate),
            actor=client.external_user_id,
        )
    except WalletShort as exc:
        raise InsufficientFunds() from exc
    if entry.replayed:  # a concurrent twin of this request wrote the key first
        first = await ledger.get_transaction(db, entry.id)
        assert first is not None
        return await _replay(db, client, first, from_currency, to_currency, amount)
    return Conversion(entry, from_currency, to_currency, amount, net, fee, rate)


def _note(from_currency: str, to_currency: str, rate: Decimal) -> str:
    return f"{from_currency} -> {to_currency} at {rate} USD/EUR"


_NOTE = re.compile(r"(EUR|USD) -> (EUR|USD) at ([0-9.]+) USD/EUR", re.ASCII)


async def _replay(
    db: AsyncSession,
    client: Client,
    first: LedgerTransaction,
    from_currency: str,
    to_currency: str,
    amount: int,
) -> Conversion:
    """The first conversion under this key, its figures read back from its postings and note;
    409 IDEMPOTENCY_KEY_REUSED unless it was this very request (currencies and amount)."""
    note = _NOTE.fullmatch(first.note or "")
    if (
        first.kind != "fx"
        or first.reference_id != str(client.id)
        or note is None
        or note.group(1, 2) != (from_currency, to_currency)
    ):
        raise IdempotencyKeyReused()
    wallet_of = {a.currency: a.id for a in await ledger.client_accounts(db, client.id)}
    src, dst = wallet_of.get(from_currency), wallet_of.get(to_currency)
    legs = await ledger.postings_of(db, first.id)
    debited = -sum(p.amount for p in legs if p.account_id == src)
    credited = sum(p.amount for p in legs if p.account_id == dst)
    if debited != amount or credited <= 0:
        raise IdempotencyKeyReused()
    fee = sum(p.amount for p in legs if p.currency == to_currency and p.amount > 0) - credited
    rate = parse_rate(note.group(3), RATE_DECIMALS)
    entry = Entry(first.id, first.kind, first.idempotency_key, first.created_at, replayed=True)
    return Conversion(entry, from_currency, to_currency, debited, credited, fee, rate)
