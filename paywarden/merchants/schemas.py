from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from paywarden.kit.casing import RequestModel
from paywarden.kit.money import format_usdt, percent
from paywarden.kit.time import iso
from paywarden.kit.urls import http_url
from paywarden.merchants.repository import MerchantStats
from paywarden.models import Merchant

Name = Annotated[str, Field(min_length=1, max_length=255)]
Secret = Annotated[str, Field(min_length=8, max_length=255)]
HttpUrl = Annotated[str, AfterValidator(http_url)]


class MerchantCreateIn(RequestModel):
    name: Name
    webhook_secret: Secret
    webhook_url: HttpUrl | None = None


class MerchantUpdateIn(RequestModel):
    name: Name | None = None
    is_active: bool | None = None
    webhook_secret: Secret | None = None
    webhook_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _only_webhook_url_may_be_null(self) -> MerchantUpdateIn:
        for field in ("name", "is_active", "webhook_secret"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class MerchantOut(BaseModel):
    id: uuid.UUID
    name: str
    api_key_prefix: str
    is_active: bool
    created_at: str
    webhook_url: str | None

    @classmethod
    def of(cls, m: Merchant) -> MerchantOut:
        return cls(
            id=m.id,
            name=m.name,
            api_key_prefix=m.api_key_prefix,
            is_active=m.is_active,
            created_at=iso(m.created_at) or "",
            webhook_url=m.webhook_url,
        )


class MerchantListItem(MerchantOut):
    order_count: int


class MerchantList(BaseModel):
    data: list[MerchantListItem]


class MerchantCreated(MerchantOut):
    api_key: str
    webhook_secret: str


class KeyRotated(BaseModel):
    id: uuid.UUID
    name: str
    api_key: str
    api_key_prefix: str


class MerchantStatsOut(BaseModel):
    order_count: int
    completed_count: int
    callback_failed_count: int
    active_order_count: int
    total_received: str
    last_order_at: str | None
    success_rate: str
    incident_count: int

    @classmethod
    def of(cls, s: MerchantStats) -> MerchantStatsOut:
        return cls(
            order_count=s.order_count,
            completed_count=s.completed_count,
            callback_failed_count=s.callback_failed_count,
            active_order_count=s.active_order_count,
            total_received=format_usdt(s.total_received),
            last_order_at=iso(s.last_order_at),
            success_rate=percent(s.completed_count, s.order_count),
            incident_count=s.incident_count,
        )
