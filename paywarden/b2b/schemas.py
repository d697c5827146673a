"""The B2B pool's API in and out. No output carries a profile's secret."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from paywarden.kit.casing import RequestModel
from paywarden.kit.pagination import PageQuery, Pagination
from paywarden.kit.time import iso
from paywarden.models import B2bGroup, B2bInvite, B2bProfile

GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
InviteCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# ---- upload --------------------------------------------------------------------------------


class UploadQuery(RequestModel):
    group_id: uuid.UUID | None = None  # the group of profiles that name none


class ProfileResult(BaseModel):
    index: int  # the profile's position in the uploaded array
    external_id: str | None
    ok: bool  # saved
    reason: str | None  # why not, in words an operator understands
    id: uuid.UUID | None = None  # the saved profile


class UploadReport(BaseModel):
    received: int
    saved: int
    results: list[ProfileResult]


# ---- profiles ------------------------------------------------------------------------------


class ProfileQuery(PageQuery):
    status: Literal["available", "assigned", "disabled"] | None = None
    group_id: uuid.UUID | None = None


class ProfileOut(BaseModel):
    id: uuid.UUID
    issuer: str
    external_id: str
    label: str | None
    status: str
    group_id: uuid.UUID | None
    client_id: uuid.UUID | None
    validated_at: str | None
    assigned_at: str | None
    created_at: str

    @classmethod
    def of(cls, p: B2bProfile) -> ProfileOut:
        return cls(
            id=p.id,
            issuer=p.issuer,
            external_id=p.external_id,
            label=p.label,
            status=p.status,
            group_id=p.group_id,
            client_id=p.client_id,
            validated_at=iso(p.validated_at),
            assigned_at=iso(p.assigned_at),
            created_at=iso(p.created_at) or "",
        )


class ProfilePage(BaseModel):
    data: list[ProfileOut]
    pagination: Pagination


class ProfilePatchIn(RequestModel):
    """`available` returns a profile to the pool, without a client; `disabled` takes it out
    of circulation (keeping who had it). `group_id` null leaves it in no group."""

    status: Literal["available", "disabled"] | None = None
    group_id: uuid.UUID | None = None

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.model_fields_set}


class Counts(BaseModel):
    total: int = 0
    available: int = 0
    assigned: int = 0
    disabled: int = 0


class GroupCounts(Counts):
    group_id: uuid.UUID | None
    name: str | None


class PoolStats(Counts):
    groups: list[GroupCounts]  # every group (empty ones too), then profiles in no group


# ---- groups and invites --------------------------------------------------------------------


class GroupIn(RequestModel):
    name: GroupName


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: str
    profiles: Counts

    @classmethod
    def of(cls, g: B2bGroup, counts: Counts) -> GroupOut:
        return cls(id=g.id, name=g.name, created_at=iso(g.created_at) or "", profiles=counts)


class GroupList(BaseModel):
    data: list[GroupOut]


class InviteIn(RequestModel):
    max_uses: int = Field(default=1, ge=1, le=10_000)
    expires_at: datetime | None = None


class InviteOut(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    code_prefix: str
    max_uses: int
    uses: int
    expires_at: str | None
    created_at: str
    created_by: str

    @classmethod
    def of(cls, i: B2bInvite) -> InviteOut:
        return cls(
            id=i.id,
            group_id=i.group_id,
            code_prefix=i.code_prefix,
            max_uses=i.max_uses,
            uses=i.uses,
            expires_at=iso(i.expires_at),
            created_at=iso(i.created_at) or "",
            created_by=i.created_by,
        )


class InviteCreated(InviteOut):
    code: str  # shown this once: only its hash is stored


class InviteList(BaseModel):
    data: list[InviteOut]


# ---- the client's redeem -------------------------------------------------------------------


class RedeemIn(RequestModel):
    code: InviteCode


class AssignedProfileOut(BaseModel):
    id: uuid.UUID
    issuer: str
    external_id: str
    label: str | None
    group_id: uuid.UUID | None
    assigned_at: str | None

    @classmethod
    def of(cls, p: B2bProfile) -> AssignedProfileOut:
        return cls(
            id=p.id,
            issuer=p.issuer,
            external_id=p.external_id,
            label=p.label,
            group_id=p.group_id,
            assigned_at=iso(p.assigned_at),
        )


class RedeemOut(BaseModel):
    profile: AssignedProfileOut
    already_assigned: bool  # the client had a profile of this group: no use was counted
