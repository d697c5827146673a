from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, model_validator

from paywarden.banners.service import Advice
from paywarden.kit.casing import RequestModel
from paywarden.kit.time import iso
from paywarden.kit.urls import http_url
from paywarden.models import Banner

PageName = Literal["main", "card", "3ds", "tx", "profile"]
CLIENT_PREFIX = "/api/botcartd/banners"


def _target_url(value: str) -> str:
    # It becomes a Location header: no whitespace or control characters may ride along.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain spaces or control characters")
    return http_url(value)


TargetUrl = Annotated[str, AfterValidator(_target_url)]


class BannerCreateIn(RequestModel):
    """The text fields of the multipart form (the `image` file is read beside them)."""

    page: PageName
    target_url: TargetUrl
    active: bool = True


class BannerUpdateIn(RequestModel):
    page: PageName | None = None
    target_url: TargetUrl | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> BannerUpdateIn:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


def image_url(base_url: str, banner: Banner) -> str:
    # The hash in the URL: a replaced image gets a new URL, so the old one may be cached forever.
    return f"{base_url}{CLIENT_PREFIX}/{banner.id}/image?v={banner.image_sha256[:16]}"


class WarningOut(BaseModel):
    code: str  # IMAGE_HEAVY | ASPECT_RATIO
    message: str

    @classmethod
    def of(cls, a: Advice) -> WarningOut:
        return cls(code=a.code, message=a.message)


class BannerOut(BaseModel):
    id: str
    page: str
    image_url: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    target_url: str
    active: bool
    clicks: int
    created_at: str
    updated_at: str

    @classmethod
    def fields_of(cls, b: Banner, base_url: str) -> dict[str, object]:
        return {
            "id": str(b.id),
            "page": b.page,
            "image_url": image_url(base_url, b),
            "content_type": b.content_type,
            "width": b.width,
            "height": b.height,
            "size_bytes": b.size_bytes,
            "target_url": b.target_url,
            "active": b.active,
            "clicks": b.clicks,
            "created_at": iso(b.created_at),
            "updated_at": iso(b.updated_at),
        }

    @classmethod
    def of(cls, b: Banner, base_url: str) -> BannerOut:
        return cls.model_validate(cls.fields_of(b, base_url))


class BannerSavedOut(BannerOut):
    """The banner, and advice on its image (saved all the same)."""

    warnings: list[WarningOut]

    @classmethod
    def saved(cls, b: Banner, warnings: list[Advice], base_url: str) -> BannerSavedOut:
        return cls.model_validate(
            {**cls.fields_of(b, base_url), "warnings": [WarningOut.of(w) for w in warnings]}
        )


class BannerList(BaseModel):
    data: list[BannerOut]


class ClientBannerOut(BaseModel):
    id: str
    page: str
    image_url: str
    target_url: str
    click_url: str  # open this one: it counts the click, then redirects to target_url

    @classmethod
    def of(cls, b: Banner, base_url: str) -> ClientBannerOut:
        return cls(
            id=str(b.id),
            page=b.page,
            image_url=image_url(base_url, b),
            target_url=b.target_url,
            click_url=f"{base_url}{CLIENT_PREFIX}/{b.id}/click",
        )


class ClientBannerList(BaseModel):
    data: list[ClientBannerOut]
