"""Web sign-ups in and out: the client API bodies and the admin list."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, model_validator

from paywarden.kit.casing import RequestModel
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.models import WebUser

MIN_PASSWORD = 10


class SignupIn(RequestModel):
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)


class LoginIn(RequestModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class StatusOut(BaseModel):
    status: str


class SignedInOut(BaseModel):
    client_id: uuid.UUID | None
    external_user_id: str


class WebUserQuery(PageQuery):
    search: str | None = Field(default=None, max_length=320)
    status: Literal["pending", "active", "disabled"] | None = None
    format: Literal["json", "csv"] = "json"


class WebUserPatchIn(RequestModel):
    """`status` enables or disables the login; `external_user_id` links it to a bot client
    (`tg_<telegram user id>`, which must exist) or unlinks it (null)."""

    status: Literal["active", "disabled"] | None = None
    external_user_id: str | None = Field(default=None, pattern=r"^tg_[1-9][0-9]{0,19}$")

    @model_validator(mode="after")
    def _status_not_null(self) -> WebUserPatchIn:
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        return self

    def changes(self) -> dict[str, str | None]:
        return {k: getattr(self, k) for k in self.model_fields_set}


class WebUserOut(BaseModel):
    id: uuid.UUID
    email: str
    status: str
    external_user_id: str | None
    client_id: uuid.UUID | None
    email_verified_at: str | None
    created_at: str
    last_login_at: str | None

    @classmethod
    def of(cls, u: WebUser) -> WebUserOut:
        return cls(
            id=u.id,
            email=u.email,
            status=u.status,
            external_user_id=u.external_user_id,
            client_id=u.client_id,
            email_verified_at=iso(u.email_verified_at),
            created_at=iso(u.created_at) or "",
            last_login_at=iso(u.last_login_at),
        )


class WebUserPage(BaseModel):
    data: list[WebUserOut]
    pagination: Pagination
