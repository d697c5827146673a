from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from paywarden.kit.casing import RequestModel
from paywarden.kit.money import USDT_DECIMALS, Amount, format_usdt
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.kit.urls import http_url
from paywarden.models import ChainTransfer, Order, OrderEvent
from paywarden.models.orders import STATUSES
from paywarden.orders.merchant_view import PaymentOut
from paywarden.webhooks.schemas import WebhookEventOut

MAX_AMOUNT = 1_000_000 * 10**6
MAX_METADATA_BYTES = 4096
Status = Literal["pending", "confirming", "confirmed", "completed", "callback_failed", "expired"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class PaymentCreateIn(RequestModel):
    external_id: str = Field(min_length=1, max_length=255)
    amount: Annotated[
        int,
        Field(
            description='USDT as a decimal string, e.g. "12.5": > 0, at most 6 decimals, '
            "at most 1000000"
        ),
        Amount(USDT_DECIMALS, positive=True, max_units=MAX_AMOUNT, example="12.5"),
    ]
    callback_url: Annotated[str, AfterValidator(http_url)] | None = None
    expires_in: int = Field(default=3600, ge=300, le=86400, description="seconds")
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
            raise ValueError("metadata must be at most 4 KB as JSON")
        return value

    @property
    def amount_units(self) -> int:
        """Micro-USDT."""
        return self.amount


class OrderFilterQuery(PageQuery):
    status: Status | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class AdminOrderFilterQuery(OrderFilterQuery):
    merchant_id: uuid.UUID | None = None


class PaymentPage(BaseModel):
    data: list[PaymentOut]
    pagination: Pagination


class AdminOrderOut(BaseModel):
    id: uuid.UUID
    external_id: str
    merchant_id: uuid.UUID
    merchant_name: str
    address: str
    amount_expected: str
    amount_received: str
    status: str
    tx_hash: str | None
    created_at: str
    expires_at: str

    @classmethod
    def of(cls, o: Order, merchant_name: str) -> AdminOrderOut:
        return cls(
            id=o.id,
            external_id=o.external_id,
            merchant_id=o.merchant_id,
            merchant_name=merchant_name,
            address=o.address,
            amount_expected=format_usdt(o.amount_expected),
            amount_received=format_usdt(o.amount_received),
            status=o.status,
            tx_hash=o.tx_hash,
            created_at=iso(o.created_at) or "",
            expires_at=iso(o.expires_at) or "",
        )


class AdminOrderPage(BaseModel):
    data: list[AdminOrderOut]
    pagination: Pagination


class AdminOrderDetailOrder(AdminOrderOut):
    callback_url: str | None
    checkout_url: str
    metadata: dict[str, Any] | None
    updated_at: str


class OrderEventOut(BaseModel):
    id: uuid.UUID
    event_type: str
    from_status: str | None
    to_status: str | None
    payload: dict[str, Any]
    created_at: str

    @classmethod
    def of(cls, e: OrderEvent) -> OrderEventOut:
        return cls(
            id=e.id,
            event_type=e.event_type,
            from_status=e.from_status,
            to_status=e.to_status,
            payload=e.payload,
            created_at=iso(e.created_at) or "",
        )


class OrderMeta(BaseModel):
    network: str
    usdt_contract: str
    tronscan_base_url: str
    tx_explorer_base_url: str
    address_explorer_base_url: str
    sweep_enabled: bool
    sweep_mode: str


class TransferOut(BaseModel):
    """One USDT transfer to the order's address, as the chain scanner recorded it."""

    model_config = ConfigDict(populate_by_name=True)

    tx_hash: str
    event_index: int
    amount: str
    from_: str = Field(serialization_alias="from")
    to: str
    block_number: int
    block_timestamp: str
    status: str  # seen (not final yet) | final | dropped (removed by a reorg)
    explorer_url: str

    @classmethod
    def of(cls, t: ChainTransfer, tx_explorer_base_url: str) -> TransferOut:
        return cls(
            tx_hash=t.tx_hash,
            event_index=t.event_index,
            amount=format_usdt(t.amount),
            from_=t.from_address,
            to=t.to_address,
            block_number=t.block_number,
            block_timestamp=iso(t.block_timestamp) or "",
            status=t.status,
            explorer_url=f"{tx_explorer_base_url}{t.tx_hash}",
        )


class SettlementOut(BaseModel):
    """Where the order's funds went: the sweep's transfer to the cold wallet."""

    tx_hash: str  # the USDT transfer to the cold wallet
    amount: str  # USDT swept (the address's whole balance)
    fee_trx: str  # TRX the sweep burned in fees, all its transactions together
    funding_tx_hash: str | None  # the hot wallet's TRX to the address (none needed: null)
    mode: str  # burn | delegate
    swept_at: str


class AdminOrderDetail(BaseModel):
    order: AdminOrderDetailOrder
    events: list[OrderEventOut]
    # Seed 002: the transfer that completed the order, else the latest one seen; null while
    # there is none. Every transfer to the order's address is in `transfers`, oldest first.
    transaction: TransferOut | None
    transfers: list[TransferOut] = []
    # null until the order's funds are swept to the cold wallet
    settlement: SettlementOut | None
    meta: OrderMeta
    # The order's merchant webhooks, oldest first, each with its deliveries and their attempts.
    webhooks: list[WebhookEventOut] = []


class RetryWebhookIn(RequestModel):
    callback_url: Annotated[str, AfterValidator(http_url)] | None = None
