"""Pricing of the Cards product: plans (the seed's tariffs) and the operators' EUR/USD rate.

Money is in cents of EUR (`currency` beside it); percents are basis points (hundredths of a
percent, 150 = 1.5 %); the rate is micro-USD per EUR (1_085_000 = 1.0850). All exact integers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.kit.time import utcnow
from paywarden.models.base import Base, uuid_pk

PLAN_CURRENCY = "EUR"


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("currency = 'EUR'", name="currency"),
        CheckConstraint("monthly_fee >= 0 AND card_issue_fee >= 0", name="fees"),
        CheckConstraint(
            "topup_fee_bps BETWEEN 0 AND 10000 AND fx_fee_bps BETWEEN 0 AND 10000",
            name="percents",
        ),
        CheckConstraint("cards_included >= 0 AND max_active_cards >= 0", name="cards"),
        CheckConstraint("NOT (is_default AND archived)", name="default_not_archived"),
        # At most one default plan, enforced by the database on both engines.
        Index(
            "uq_plans_one_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
            sqlite_where=text("is_default"),
        ),
        Index("ix_plans_sort_order", "sort_order"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    bullets: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default=PLAN_CURRENCY)
    monthly_fee: Mapped[int] = mapped_column(BigInteger)  # cents
    cards_included: Mapped[int] = mapped_column(Integer)
    max_active_cards: Mapped[int] = mapped_column(Integer)
    card_issue_fee: Mapped[int] = mapped_column(BigInteger)  # cents, past the included cards
    topup_fee_bps: Mapped[int] = mapped_column(Integer)  # hundredths of a percent
    fx_fee_bps: Mapped[int] = mapped_column(Integer)
    hidden_from_home: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FxRate(Base):
    """Every rate an operator set, kept: the current one is the latest row."""

    __tablename__ = "fx_rates"
    __table_args__ = (CheckConstraint("eur_usd_micros > 0", name="positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    eur_usd_micros: Mapped[int] = mapped_column(BigInteger)  # USD price of one EUR, x 10^6
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operators.id"))
    set_by: Mapped[str] = mapped_column(String(255))  # the operator's email, "cli" or "system"
