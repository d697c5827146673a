"""How a top-up is shown (client API and admin): amounts as fixed-decimal strings."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from paywarden.kit.money import format_usdt
from paywarden.kit.time import iso
from paywarden.models import Topup
from paywarden.plans.amounts import format_cents


def _cents(value: int | None) -> str | None:
    return format_cents(value) if value is not None else None


class TopupOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: str  # pending | credited | expired
    currency: str  # the wallet credited
    amount_usdt: str  # asked for, "25.000000"
    received_usdt: str | None  # what arrived
    gross: str | None  # USD before the fee, "25.00"
    fee: str | None
    net: str | None  # credited to the USD wallet
    transaction_id: uuid.UUID | None
    created_at: str
    credited_at: str | None

    @classmethod
    def of(cls, t: Topup) -> TopupOut:
        return cls(
            id=t.id,
            order_id=t.order_id,
            status=t.status,
            currency="USD",
            amount_usdt=format_usdt(t.amount_usdt),
            received_usdt=format_usdt(t.received_usdt) if t.received_usdt is not None else None,
            gross=_cents(t.gross_cents),
            fee=_cents(t.fee_cents),
            net=_cents(t.credited_cents),
            transaction_id=t.transaction_id,
            created_at=iso(t.created_at) or "",
            credited_at=iso(t.credited_at),
        )
