from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from paywarden.kit.casing import RequestModel
from paywarden.kit.time import iso
from paywarden.models import Operator, OperatorSession

Password = Field(min_length=12, max_length=1024)


class BootstrapIn(RequestModel):
    email: EmailStr
    password: str = Password


class LoginIn(RequestModel):
    email: str | None = Field(default=None, max_length=255)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, max_length=64)


class EnrollIn(RequestModel):
    setup_token: str = Field(min_length=1, max_length=128)
    totp_code: str = Field(min_length=1, max_length=64)


class PasswordChangeIn(RequestModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Password


class OperatorCreateIn(RequestModel):
    email: EmailStr
    password: str = Password
    role: Literal["super_admin", "operator"] = "operator"


class Ok(BaseModel):
    ok: bool = True


class SetupRequiredOut(BaseModel):
    ok: bool = False
    totp_setup_required: bool = True
    setup_token: str
    otpauth_uri: str
    qr_svg: str


class EnrolledOut(BaseModel):
    ok: bool = True
    backup_codes: list[str]


class OperatorOut(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    is_primary: bool
    totp_enabled: bool
    created_at: str
    last_login_at: str | None

    @classmethod
    def of(cls, o: Operator) -> OperatorOut:
        return cls(
            id=o.id,
            email=o.email,
            role=o.role,
            is_primary=o.is_primary,
            totp_enabled=o.totp_enabled,
            created_at=iso(o.created_at) or "",
            last_login_at=iso(o.last_login_at),
        )


class OperatorList(BaseModel):
    data: list[OperatorOut]


class SessionOut(BaseModel):
    id: uuid.UUID
    operator_id: uuid.UUID
    operator_email: str
    ip: str
    user_agent: str
    created_at: str
    last_seen_at: str
    expires_at: str
    current: bool

    @classmethod
    def of(cls, s: OperatorSession, email: str, current_id: uuid.UUID) -> SessionOut:
        return cls(
            id=s.id,
            operator_id=s.operator_id,
            operator_email=email,
            ip=s.ip,
            user_agent=s.user_agent,
            created_at=iso(s.created_at) or "",
            last_seen_at=iso(s.last_seen_at) or "",
            expires_at=iso(s.expires_at) or "",
            current=s.id == current_id,
        )


class SessionList(BaseModel):
    data: list[SessionOut]
