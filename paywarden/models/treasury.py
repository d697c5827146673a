"""Treasury: the card issuer's float as we last saw it, the operators' estimates, and the
per-minute counts of our calls to the issuer (the error rate's source).

Everything here lives in the database so that every replica and worker sees the same figures:
the issuer is asked at most once a minute whichever process asks.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

# The issuer float's currencies (the card currencies).
TREASURY_CURRENCIES = ("EUR", "USD")


class IssuerStatusRow(Base):
    """One row per issuer adapter name: the last refresh of its health and balances, and the
    low-float alert's state (which figures are below their thresholds right now)."""

    __tablename__ = "issuer_status"

    issuer: Mapped[str] = mapped_column(String(40), primary_key=True)
    # When a refresh was last attempted (the 60 s cache runs from here, success or not).
    refreshed_at: Mapped[datetime | None] = mapped_column()
    # The health call's answer at the last refresh; None: the call itself failed.
    health_ok: Mapped[bool | None] = mapped_column()
    health_detail: Mapped[str | None] = mapped_column(String(255))
    # The last refresh's failure (health or balances), None once a refresh succeeds again.
    error: Mapped[str | None] = mapped_column(String(500))
    error_at: Mapped[datetime | None] = mapped_column()
    # True when the last refresh's balances call failed (the figures shown are older).
    balances_failed: Mapped[bool] = mapped_column(default=False)
    # The low-float alert: the figures ("runway", "balance_EUR", ...) now under their
    # thresholds; an incident is written when a figure joins this set.
    alerting: Mapped[list[str]] = mapped_column(JSON, default=list)
    alerted_at: Mapped[datetime | None] = mapped_column()


class IssuerBalance(Base):
    """The issuer's balance in one currency as last read; kept when a later read fails."""

    __tablename__ = "issuer_balances"

    issuer: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)  # cents; None: never read
    checked_at: Mapped[datetime | None] = mapped_column()  # when `amount` was read
    error: Mapped[str | None] = mapped_column(String(500))  # the last read's failure
    error_at: Mapped[datetime | None] = mapped_column()


class IssuerCallCount(Base):
    """Our calls to the issuer in one UTC minute: how many answered and how many failed."""

    __tablename__ = "issuer_call_counts"
    __table_args__ = (
        CheckConstraint("ok >= 0", name="ok"),
        CheckConstraint("failed >= 0", name="failed"),
    )

    minute: Mapped[datetime] = mapped_column(primary_key=True)
    ok: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)


class TreasuryEstimate(Base):
    """One save of the operators' manual estimates (history: the newest row is current)."""

    __tablename__ = "treasury_estimates"
    __table_args__ = (
        CheckConstraint("pending_eur >= 0", name="pending_eur"),
        CheckConstraint("pending_usd >= 0", name="pending_usd"),
        CheckConstraint("holds_eur >= 0", name="holds_eur"),
        CheckConstraint("holds_usd >= 0", name="holds_usd"),
        CheckConstraint(
            "runway_days_override IS NULL OR runway_days_override >= 0",
            name="runway_days_override",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Cents per currency: settlements the issuer will still take, money it holds back.
    pending_eur: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    holds_eur: Mapped[int] = mapped_column(BigInteger, default=0)
    holds_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    runway_days_override: Mapped[int | None] = mapped_column(Integer)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"), index=True)
    updated_by: Mapped[str] = mapped_column(String(255), default="")
