"""The sandbox issuer's books, in memory: cards, transactions, sent events, program balances.

Rules only, no HTTP and no I/O: `simulator.py` sends what these changes imply. Amounts are cents;
"billing" amounts are in the card's currency, "merchant" amounts in the purchase's.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from paywarden.kit.errors import AppError

CARD_CURRENCIES = ("EUR", "USD")
# Purchase currency -> card currency rates the sandbox's "scheme" converts with.
RATES: dict[tuple[str, str], Decimal] = {
    ("USD", "EUR"): Decimal("0.92"),
    ("EUR", "USD"): Decimal("1.08"),
    ("GBP", "EUR"): Decimal("1.17"),
    ("GBP", "USD"): Decimal("1.27"),
}
PURCHASE_CURRENCIES = ("EUR", "USD", "GBP")
OPENING_BALANCE = 1_000_000_00  # each currency's program balance at start (cents)
BIN = "428563"  # the sandbox's card range (a Visa-like 6-digit BIN)


class SandboxError(AppError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def luhn_check_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these become odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def new_pan() -> str:
    partial = BIN + "".join(str(secrets.randbelow(10)) for _ in range(9))
    return partial + luhn_check_digit(partial)


def convert(amount: int, source: str, target: str) -> int:
    if source == target:
        return amount
    rate = RATES.get((source, target))
    if rate is None:
        raise SandboxError(422, "unsupported_currency", f"no rate from {source} to {target}")
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass
class Card:
    id: str
    reference: str
    currency: str
    monthly_limit: int
    label: str | None
    status: str  # ACTIVE | FROZEN | CLOSED (the sandbox's own words)
    pan: str
    exp_month: int
    exp_year: int
    cvv: str
    created_at: datetime

    def __repr__(self) -> str:  # card data stays out of logs
        return f"Card(id={self.id!r}, status={self.status!r})"

    @property
    def last4(self) -> str:
        return self.pan[-4:]


@dataclass
class Transaction:
    id: str
    card_id: str
    currency: str  # the card's
    amount: int  # authorized, billing
    merchant_amount: int
    merchant_currency: str
    merchant: dict[str, str | None]
    three_ds: bool | str | None
    # pending authenticating approved declined settled reversed expired refunded
    status: str = "pending"
    response_code: str | None = None
    settled: int = 0  # billing
    merchant_settled: int = 0
    refunded: int = 0  # billing
    merchant_refunded: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # three_ds "wait": the code the shopper must type, until typed or lapsed (kept out of repr)
    otp: str | None = field(default=None, repr=False)
    otp_expires_at: datetime | None = None
    authenticated: bool = False  # the shopper typed the right code in time


@dataclass
class SentEvent:
    id: str
    type: str
    body: bytes  # exactly as first sent: `duplicate` re-sends these bytes
    deliveries: list[str] = field(default_factory=list)  # "200", "500", "ConnectError", ...


@dataclass
class SandboxState:
    cards: dict[str, Card] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    events: dict[str, SentEvent] = field(default_factory=dict)
    balances: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(CARD_CURRENCIES, OPENING_BALANCE)
    )

    # --- cards ---------------------------------------------------------------------------------

    def create_card(
        self, *, reference: str, currency: str, monthly_limit: int, label: str | None
    ) -> tuple[Card, bool]:
        """The card for `reference`, created unless it exists; (card, created)."""
        if existing := self.by_reference.get(reference):
            return self.cards[existing], False
        if currency not in CARD_CURRENCIES:
            raise SandboxError(422, "unsupported_currency", "cards are issued in EUR or USD")
        now = datetime.now(UTC)
        card = Card(
            id=new_id("card"),
            reference=reference,
            currency=currency,
            monthly_limit=monthly_limit,
            label=label,
            status="ACTIVE",
            pan=new_pan(),
            exp_month=now.month,
            exp_year=now.year + 3,
            cvv=f"{secrets.randbelow(1000):03d}",
            created_at=now,
        )
        self.cards[card.id] = card
        self.by_reference[reference] = card.id
        return card, True

    def card(self, card_id: str) -> Card:
        card = self.cards.get(card_id)
        if card is None:
            raise SandboxError(404, "card_not_found", "no such card")
        return card

    def set_status(self, card_id: str, status: str) -> Card:
        card = self.card(card_id)
        if card.status == "CLOSED" and status != "CLOSED":
            raise SandboxError(409, "card_closed", "the card is closed")
        card.status = status
        return card

    def set_limit(self, card_id: str, monthly_limit: int) -> Card:
        card = self.card(card_id)
        if card.status == "CLOSED":
            raise SandboxError(409, "card_closed", "the card is closed")
        card.monthly_limit = monthly_limit
        return card

    # --- transactions --------------------------------------------------------------------------

    def transaction(self, transaction_id: str) -> Transaction:
        tx = self.transactions.get(transaction_id)
        if tx is None:
            raise SandboxError(404, "TRANSACTION_NOT_FOUND", "no such transaction")
        return tx

    def open_purchase(
        self,
        card: Card,
        *,
        merchant_amount: int,
        merchant_currency: str,
        merchant: dict[str, str | None],
        three_ds: bool | str | None,
    ) -> Transaction:
        if merchant_currency not in PURCHASE_CURRENCIES:
            raise SandboxError(422, "unsupported_currency", "purchases are in EUR, USD or GBP")
        tx = Transaction(
            id=new_id("txn"),
            card_id=card.id,
            currency=card.currency,
            amount=convert(merchant_amount, merchant_currency, card.currency),
            merchant_amount=merchant_amount,
            merchant_currency=merchant_currency,
            merchant=merchant,
            three_ds=three_ds,
        )
        self.transactions[tx.id] = tx
        return tx

    def await_otp(self, tx: Transaction, otp: str, expires_at: datetime) -> None:
        """The purchase waits for the shopper to type `otp` (three_ds "wait")."""
        tx.status, tx.otp, tx.otp_expires_at = "authenticating", otp, expires_at

    def authenticate(self, tx: Transaction, otp: str, now: datetime) -> bool:
        """The shopper typed `otp`: True when right and in time. Either way the code is spent
        and the purchase goes on (`pending`), to its authorization or to a decline."""
        self._expect(tx, "authenticating")
        expected, expires_at = tx.otp or "", tx.otp_expires_at
        tx.status, tx.otp, tx.otp_expires_at = "pending", None, None
        in_time = expires_at is not None and now < expires_at
        right = hmac.compare_digest(otp.encode(), expected.encode()) and bool(expected)
        tx.authenticated = right and in_time
        return tx.authenticated

    def decline(self, tx: Transaction, code: str) -> None:
        tx.status, tx.response_code = "declined", code

    def approve(self, tx: Transaction) -> None:
        """The program balance funds the authorization now (released if it never settles)."""
        tx.status, tx.response_code = "approved", "00"
        self.balances[tx.currency] -= tx.amount

    def settle(self, tx: Transaction, merchant_amount: int | None) -> None:
        self._expect(tx, "approved")
        merchant = tx.merchant_amount if merchant_amount is None else merchant_amount
        billing = (
            tx.amount
            if merchant == tx.merchant_amount
            else convert(merchant, tx.merchant_currency, tx.currency)
        )
        if merchant <= 0 or billing > tx.amount or merchant > tx.merchant_amount:
            raise SandboxError(
                422, "INVALID_AMOUNT", "a settlement is at most the authorized amount"
            )
        self.balances[tx.currency] += tx.amount - billing  # a partial settlement frees the rest
        tx.status, tx.settled, tx.merchant_settled = "settled", billing, merchant

    def release(self, tx: Transaction, status: str) -> None:
        """A reversal or an expiry: the authorization ends unsettled, its funds come back."""
        self._expect(tx, "approved")
        self.balances[tx.currency] += tx.amount
        tx.status = status

    def refund(self, tx: Transaction, merchant_amount: int | None) -> tuple[int, int]:
        """(billing, merchant) refunded now."""
        if tx.status not in ("settled", "refunded") or tx.refunded >= tx.settled:
            raise SandboxError(409, "INVALID_STATE", "only a settled purchase can be refunded")
        left_merchant = tx.merchant_settled - tx.merchant_refunded
        merchant = left_merchant if merchant_amount is None else merchant_amount
        if merchant <= 0 or merchant > left_merchant:
            raise SandboxError(422, "INVALID_AMOUNT", "a refund is at most what is left settled")
        billing = (
            tx.settled - tx.refunded
            if merchant == left_merchant
            else min(convert(merchant, tx.merchant_currency, tx.currency), tx.settled - tx.refunded)
        )
        tx.refunded += billing
        tx.merchant_refunded += merchant
        if tx.refunded >= tx.settled:
            tx.status = "refunded"
        self.balances[tx.currency] += billing
        return billing, merchant

    @staticmethod
    def _expect(tx: Transaction, status: str) -> None:
        if tx.status != status:
            raise SandboxError(
                409, "INVALID_STATE", f"the transaction is {tx.status}, not {status}"
            )
