"""The wallets' double-entry ledger: accounts, transactions, their postings, and holds.

Postings of a transaction sum to zero per currency. Transactions and postings are append-only
(triggers in the database refuse UPDATE and DELETE). Each account keeps a cached balance, updated
with the postings in the same database transaction; `paywarden ledger check` recomputes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

# Account kinds.
CLIENT = "client"
SYSTEM = "system"

# Currencies and their decimals (amounts are integers in these minor units).
EUR = "EUR"
USD = "USD"
USDT = "USDT"
DECIMALS = {EUR: 2, USD: 2, USDT: 6}
WALLET_CURRENCIES = (EUR, USD)

# System accounts, one per (code, currency), some split into shards (see wallets.service).
USDT_RECEIVED = "usdt_received"
FEE_REVENUE = "fee_revenue"
FX = "fx"
ROUNDING = "rounding"
ISSUER_FLOAT = "issuer_float"
ADJUSTMENTS = "adjustments"
SYSTEM_CODES = (USDT_RECEIVED, FEE_REVENUE, FX, ROUNDING, ISSUER_FLOAT, ADJUSTMENTS)

# Transaction kinds.
KINDS = (
    "topup",
    "topup_fee",
    "subscription_fee",
    "card_issue_fee",
    "card_spend",
    "card_refund",
    "fx",
    "adjustment",
    "demo",
)

# Hold statuses.
HELD = "held"
POSTED = "posted"
VOIDED = "voided"
HOLD_STATUSES = (HELD, POSTED, VOIDED)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class LedgerAccount(Base):
    """A client's wallet in one currency, or (a shard of) a system account in one currency."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('client', 'system')", name="kind"),
        CheckConstraint(
            "(kind = 'client' AND client_id IS NOT NULL AND code IS NULL AND shard = 0)"
            " OR (kind = 'system' AND client_id IS NULL AND code IS NOT NULL)",
            name="owner",
        ),
        CheckConstraint(f"currency IN ({_in(tuple(DECIMALS))})", name="currency"),
        UniqueConstraint("client_id", "currency", name="uq_ledger_accounts_client_currency"),
        UniqueConstraint(
            "code", "currency", "shard", name="uq_ledger_accounts_code_currency_shard"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id"))
    code: Mapped[str | None] = mapped_column(String(32))
    shard: Mapped[int] = mapped_column(SmallInteger, default=0)
    currency: Mapped[str] = mapped_column(String(8))
    # Cached: the sum of the account's postings, kept in step under a row lock.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransaction(Base):
    """One business event on the ledger (the seed's `wallet_ledger` line); append-only."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(KINDS)})", name="kind"),
        Index("ix_ledger_transactions_reference", "reference_type", "reference_id"),
        Index("ix_ledger_transactions_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    reference_type: Mapped[str | None] = mapped_column(String(32))  # order, card, operator, ...
    reference_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(255))  # who made it: an operator, "system"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerPosting(Base):
    """One leg of a transaction: a signed amount on one account, in the account's currency."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        Index("ix_ledger_postings_account_created", "account_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units; + credit, - debit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerHold(Base):
    """A reservation of part of a wallet: held, then posted (up to the amount) or voided."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'posted', 'voided')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ledger_holds_account_status", "account_id", "status"),
        Index("ix_ledger_holds_reference", "reference_type", "reference_id"),
        # The live holds alone (a small share of all holds), for sums across wallets.
        Index(
            "ix_ledger_holds_held",
            "account_id",
            "amount",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=HELD)
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    posted_amount: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
