"""The B2B profile pool over HTTP: the operators' `/api/v1/admin/b2b-…` and the client's
`POST /api/botcartd/b2b/redeem`.

Uploading profiles and creating invites hand out issuer credentials: a super_admin does them.
Reading the pool, moving profiles between groups, disabling them and creating groups is pool
housekeeping that any operator may do. Every change is audited.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status

from paywarden.b2b import invites, service
from paywarden.b2b.crypto import vault_for
from paywarden.b2b.errors import IssuerMissing
from paywarden.b2b.repository import ProfileFilter
from paywarden.b2b.schemas import (
    AssignedProfileOut,
    Counts,
    GroupCounts,
    GroupIn,
    GroupList,
    GroupOut,
    InviteCreated,
    InviteIn,
    InviteList,
    InviteOut,
    PoolStats,
    ProfileOut,
    ProfilePage,
    ProfilePatchIn,
    ProfileQuery,
    ProfileResult,
    RedeemIn,
    RedeemOut,
    UploadQuery,
    UploadReport,
)
from paywarden.b2b.service import Tally
from paywarden.clients import service as clients
from paywarden.clients.auth import CurrentClient
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.openapi import ERROR_REF, error_response
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor, SuperAdmin


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: B2B pool"])
client_router = APIRouter(
    prefix="/api/botcartd",
    route_class=DbRoute,
    tags=["client API"],
    responses={
        401: _error("No or wrong credentials: UNAUTHORIZED, INIT_DATA_INVALID, INIT_DATA_EXPIRED"),
        403: _error("CLIENT_BANNED"),
        404: _error("INVITE_NOT_FOUND, or the client the bot names does not exist (NOT_FOUND)"),
        410: _error("INVITE_EXPIRED, INVITE_USED_UP"),
        429: error_response(429),
    },
)


def _counts(t: Tally) -> Counts:
    return Counts(total=t.total, available=t.available, assigned=t.assigned, disabled=t.disabled)


def _adapter(request: Request) -> IssuerAdapter:
    adapter = getattr(request.app.state, "issuer", None)
    if adapter is None:
        raise IssuerMissing()
    return adapter


@router.post(
    "/b2b-profiles",
    response_model=UploadReport,
    responses={
        404: _error("GROUP_NOT_FOUND: the `group_id` query names no group"),
        503: _error("B2B_KEY_MISSING (no B2B_ENCRYPTION_KEY in production), ISSUER_NOT_CONFIGURED"),
    },
)
async def upload_profiles(
    items: Annotated[list[Any], Body()],
    q: Annotated[UploadQuery, Query()],
    request: Request,
    db: Session,
    _: SuperAdmin,
    actor: OperatorActor,
) -> UploadReport:
    """A JSON array (at most 500) of profiles in the spec format: `{"client_id",
    "client_secret", "external_id"?, "label"?, "group_id"?, …}`. Each is validated through the
    issuer's token flow before it is saved (`external_id`: the account id the issuer reports,
    else the one given); everything but external_id, label and group_id is stored encrypted.
    The answer reports each profile: `ok`, or the `reason` it was not saved (malformed,
    duplicate in the upload, already in the pool, refused by the issuer). `?group_id=` puts
    profiles that name no group into that group. 503 `B2B_KEY_MISSING` when no encryption key
    is set (production)."""
    vault = vault_for(request.app.state.settings)  # before any issuer call: fail fast
    done = await service.upload(db, _adapter(request), vault, items, q.group_id, actor)
    return UploadReport(
        received=done.received,
        saved=done.saved,
        results=[
            ProfileResult(
                index=e.index, external_id=e.external_id, ok=e.ok, reason=e.reason, id=e.id
            )
            for e in done.entries
        ],
    )


@router.get("/b2b-profiles/stats", response_model=PoolStats)
async def pool_stats(db: Session, _: CurrentOperator) -> PoolStats:
    """The seed's "Pool statistics": counts by status, overall and per group (every group,
    then profiles in no group with `group_id` null)."""
    s = await service.stats(db)
    return PoolStats(
        **_counts(s.all).model_dump(),
        groups=[
            GroupCounts(
                group_id=g.id if g else None, name=g.name if g else None, **_counts(t).model_dump()
            )
            for g, t in s.groups
        ],
    )


@router.get("/b2b-profiles", response_model=ProfilePage)
async def list_profiles(
    q: Annotated[ProfileQuery, Query()], db: Session, _: CurrentOperator
) -> ProfilePage:
    """Newest first; never a secret."""
    page = await service.profiles(db, ProfileFilter(status=q.status, group_id=q.group_id), q)
    return ProfilePage(data=[ProfileOut.of(p) for p in page.items], pagination=page.pagination())


@router.patch("/b2b-profiles/{profile_id}", response_model=ProfileOut)
async def update_profile(
    profile_id: uuid.UUID,
    body: ProfilePatchIn,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> ProfileOut:
    """`status`: `disabled` (out of circulation, the client it had kept on record) or
    `available` (back to the pool, without a client); `group_id` (null: no group). Audited:
    before and after."""
    return ProfileOut.of(await service.update_profile(db, profile_id, body.changes(), actor))


@router.get("/b2b-groups", response_model=GroupList)
async def list_groups(db: Session, _: CurrentOperator) -> GroupList:
    """Groups by name, each with its profiles' counts."""
    s = await service.stats(db)
    return GroupList(data=[GroupOut.of(g, _counts(t)) for g, t in s.groups if g is not None])


@router.post("/b2b-groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def create_group(
    body: GroupIn, db: Session, _: CurrentOperator, actor: OperatorActor
) -> GroupOut:
    """A new group (`name`, unique regardless of case: 409 `GROUP_EXISTS`)."""
    group = await invites.create_group(db, body.name, actor)
    return GroupOut.of(group, Counts())


@router.post(
    "/b2b-groups/{group_id}/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteCreated,
)
async def create_invite(
    group_id: uuid.UUID, body: InviteIn, db: Session, _: SuperAdmin, actor: OperatorActor
) -> InviteCreated:
    """An invite to the group: `max_uses` (default 1), `expires_at` (optional). The `code` is
    in this answer only; it is stored hashed, with its first 12 characters for display."""
    invite, code = await invites.create_invite(db, group_id, body.max_uses, body.expires_at, actor)
    return InviteCreated(**InviteOut.of(invite).model_dump(), code=code)


@router.get("/b2b-groups/{group_id}/invites", response_model=InviteList)
async def list_invites(group_id: uuid.UUID, db: Session, _: CurrentOperator) -> InviteList:
    """The group's invites, newest first, with their uses (codes are never shown again)."""
    return InviteList(data=[InviteOut.of(i) for i in await invites.invites(db, group_id)])


@client_router.post(
    "/b2b/redeem",
    response_model=RedeemOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The client already holds a profile of this group"}},
)
async def redeem(
    body: RedeemIn, caller: CurrentClient, response: Response, db: Session
) -> RedeemOut:
    """Redeem an invite code: the client is given one available profile of the invite's group
    (201). Redeeming again returns the profile it holds (200, no use counted). 404
    `INVITE_NOT_FOUND`, 410 `INVITE_EXPIRED` / `INVITE_USED_UP`, 409 `POOL_EMPTY`."""
    client = clients.ensure_can_change(caller.client)
    done = await invites.redeem(db, client, body.code)
    if done.already_assigned:
        response.status_code = status.HTTP_200_OK
    return RedeemOut(
        profile=AssignedProfileOut.of(done.profile), already_assigned=done.already_assigned
    )
