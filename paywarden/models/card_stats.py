"""The cards product's rollup (`card_stats`): what the analytics read instead of scanning
millions of rows. Written only by database triggers (paywarden/card_stats/sql.py says which
rows count and how); `paywarden analytics rebuild` recomputes it.

A row is one 15-minute UTC bucket (epoch seconds of its start) in one currency; bucket 0 holds
stock figures (active cards, pending authorizations). On PostgreSQL concurrent writers spread
over shards (readers sum them); the worker folds old shards into shard 0.
Amounts are integers in the currency's minor units (cents).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from paywarden.models.base import Base


class CardStats(Base):
    __tablename__ = "card_stats"

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)

    # cards issued in the bucket
    cards_created: Mapped[int] = mapped_column(BigInteger, default=0)
    # cards closed in the bucket (by closed_at)
    cards_closed: Mapped[int] = mapped_column(BigInteger, default=0)
    # stock: cards active now
    cards_active: Mapped[int] = mapped_column(BigInteger, default=0)
    # stock: their monthly limits (cents)
    cards_active_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    # authorizations approved (whatever happened after)
    tx_approved: Mapped[int] = mapped_column(BigInteger, default=0)
    # authorizations declined
    tx_declined: Mapped[int] = mapped_column(BigInteger, default=0)
    declined_insufficient_funds: Mapped[int] = mapped_column(BigInteger, default=0)
    declined_do_not_honor: Mapped[int] = mapped_column(BigInteger, default=0)
    declined_3ds: Mapped[int] = mapped_column(BigInteger, default=0)
    declined_other: Mapped[int] = mapped_column(BigInteger, default=0)
    # approved purchases: settled amount once settled, less refunds (cents)
    spend_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # those purchases
    spend_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # stock: authorized, not yet settled (cents)
    pending_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # stock: how many
    pending_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # 3-D Secure codes received
    codes_requested: Mapped[int] = mapped_column(BigInteger, default=0)
    codes_used: Mapped[int] = mapped_column(BigInteger, default=0)
    codes_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    codes_declined: Mapped[int] = mapped_column(BigInteger, default=0)
    # top-ups credited to wallets, net of the fee (cents)
    topup_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # top-ups credited
    topup_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # fee revenue from top-ups (cents)
    fee_topup: Mapped[int] = mapped_column(BigInteger, default=0)
    # fee revenue from FX: conversions and card purchases in another currency
    fee_fx: Mapped[int] = mapped_column(BigInteger, default=0)
    # fee revenue from cards: issue, monthly, other
    fee_card: Mapped[int] = mapped_column(BigInteger, default=0)


class CardExposure(Base):
    """What active cards could still spend, per currency, as last computed: for each client the
    smaller of the cards' free limit and the wallet's available balance, summed. Exact, but a
    read of every active card and wallet (hundreds of ms at 200,000 cards), so computed by the
    worker every minute and by a request that finds it older than that, and shared here."""

    __tablename__ = "card_exposure"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    available_to_spend: Mapped[int] = mapped_column(BigInteger)  # cents
    computed_at: Mapped[datetime]
