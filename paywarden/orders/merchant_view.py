"""The order as its merchant sees it: the merchant API's answers and the webhook bodies' `data`.

Apart from `schemas.py` so that the orders' rules (`service.py`) render the webhook body when an
order changes without loading the admin API's schemas.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from paywarden.kit.money import format_usdt
from paywarden.kit.time import iso
from paywarden.models import Order


class PaymentOut(BaseModel):
    id: uuid.UUID
    external_id: str
    address: str
    amount_expected: str
    amount_received: str
    status: str
    callback_url: str | None
    checkout_url: str
    tx_hash: str | None
    metadata: dict[str, Any] | None
    created_at: str
    expires_at: str

    @classmethod
    def of(cls, o: Order, base_url: str) -> PaymentOut:
        return cls(
            id=o.id,
            external_id=o.external_id,
            address=o.address,
            amount_expected=format_usdt(o.amount_expected),
            amount_received=format_usdt(o.amount_received),
            status=o.status,
            callback_url=o.callback_url,
            checkout_url=f"{base_url}/pay/{o.id}",
            tx_hash=o.tx_hash,
            metadata=o.meta,
            created_at=iso(o.created_at) or "",
            expires_at=iso(o.expires_at) or "",
        )
