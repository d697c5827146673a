"""Groups of B2B profiles, the invites that hand them out, and the client's redeem.

An invite code is shown once and stored as its SHA-256 and a display prefix (like API keys).
Operator changes are audited.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.b2b import repository as repo
from paywarden.b2b.errors import (
    GroupExists,
    GroupNotFound,
    InviteExpired,
    InviteNotFound,
    InviteUsedUp,
    PoolEmpty,
)
from paywarden.kit.security import sha256_hex
from paywarden.kit.time import as_utc, utcnow
from paywarden.models import B2bGroup, B2bInvite, B2bProfile, Client

# Candidates read per redeem attempt: others redeeming at once may take the first ones.
CLAIM_BATCH = 5


async def create_group(db: AsyncSession, name: str, actor: Actor) -> B2bGroup:
    if await repo.group_by_name(db, name) is not None:
        raise GroupExists()
    group_id = uuid.uuid4()
    if not await repo.insert_group(db, {"id": group_id, "name": name, "created_at": utcnow()}):
        raise GroupExists()  # created by someone else a moment ago
    group = await repo.get_group(db, group_id)
    assert group is not None
    audit.record(
        db,
        actor,
        "b2b.group.create",
        target_type="b2b_group",
        target_id=group.id,
        details={"name": name},
    )
    return group


INVITE_PREFIX = "b2b_"
_BASE62 = string.digits + string.ascii_letters
INVITE_DISPLAY_PREFIX = 12


def new_invite_code() -> str:
    """`b2b_` + 32 base62 characters from a CSPRNG (~190 bits): unguessable, shown once."""
    return INVITE_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(32))


async def create_invite(
    db: AsyncSession,
    group_id: uuid.UUID,
    max_uses: int,
    expires_at: datetime | None,
    actor: Actor,
) -> tuple[B2bInvite, str]:
    """A new invite to the group; the code is returned once, only its hash is kept."""
    group = await repo.get_group(db, group_id)
    if group is None:
        raise GroupNotFound()
    expires_at = as_utc(expires_at)
    code = new_invite_code()
    invite = B2bInvite(
        group_id=group.id,
        code_hash=sha256_hex(code),
        code_prefix=code[:INVITE_DISPLAY_PREFIX],
        max_uses=max_uses,
        uses=0,
        expires_at=expires_at,
        created_at=utcnow(),
        created_by=actor.label,
    )
    repo.add(db, invite)
    await db.flush()
    audit.record(
        db,
        actor,
        "b2b.invite.create",
        target_type="b2b_group",
        target_id=group.id,
        details={
            "invite_id": str(invite.id),
            "code_prefix": invite.code_prefix,
            "max_uses": max_uses,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return invite, code


async def invites(db: AsyncSession, group_id: uuid.UUID) -> Sequence[B2bInvite]:
    if await repo.get_group(db, group_id) is None:
        raise GroupNotFound()
    return await repo.invites_of(db, group_id)


@dataclass(frozen=True)
class Redeemed:
    profile: B2bProfile
    already_assigned: bool


async def redeem(db: AsyncSession, client: Client, code: str) -> Redeemed:
    """Hand the client one available profile of the invite's group.

    A client that already holds a profile of the group gets it again and no use is counted
    (a retried redeem is not a second profile). Otherwise a use is taken with a conditional
    UPDATE and a profile claimed the same way, so concurrent redeems never exceed max_uses
    nor share a profile; with none available the whole redeem rolls back (409 POOL_EMPTY).
    """
    invite = await repo.invite_by_hash(db, sha256_hex(code.strip()))
    if invite is None:
        raise InviteNotFound()
    now = utcnow()
    held = await repo.assigned_in_group(db, client.id, invite.group_id)
    if held is not None:
        return Redeemed(held, already_assigned=True)
    if not await repo.take_invite_use(db, invite.id, now):
        await db.refresh(invite)
        expires = as_utc(invite.expires_at)
        if expires is not None and expires <= now:
            raise InviteExpired()
        raise InviteUsedUp()
    skip_locked = db.bind.dialect.name == "postgresql"
    while candidates := await repo.available_candidates(
        db, invite.group_id, CLAIM_BATCH, skip_locked=skip_locked
    ):
        for profile_id in candidates:
            if await repo.claim(db, profile_id, client.id, now):
                profile = await repo.get_profile(db, profile_id)
                assert profile is not None
                await db.refresh(profile)
                return Redeemed(profile, already_assigned=False)
    raise PoolEmpty()
