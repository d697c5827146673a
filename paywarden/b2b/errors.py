"""Errors of the B2B profile pool, rendered `{"error", "code"}`."""

from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound, ValidationFailed


class B2bKeyMissing(AppError):
    status = 503
    code = "B2B_KEY_MISSING"
    message = "B2B_ENCRYPTION_KEY is not set: profiles cannot be stored"


class TooManyProfiles(ValidationFailed):
    message = "Too many profiles in one upload"


class NoProfiles(ValidationFailed):
    message = "The upload holds no profiles: send a JSON array of profiles"


class ProfileNotFound(NotFound):
    code = "PROFILE_NOT_FOUND"
    message = "B2B profile not found"


class GroupNotFound(NotFound):
    code = "GROUP_NOT_FOUND"
    message = "B2B group not found"


class GroupExists(Conflict):
    code = "GROUP_EXISTS"
    message = "A B2B group with this name exists"


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"


class InviteNotFound(NotFound):
    code = "INVITE_NOT_FOUND"
    message = "No such invite code"


class InviteExpired(AppError):
    status = 410
    code = "INVITE_EXPIRED"
    message = "This invite has expired"


class InviteUsedUp(AppError):
    status = 410
    code = "INVITE_USED_UP"
    message = "This invite has been used as many times as it allows"


class PoolEmpty(Conflict):
    code = "POOL_EMPTY"
    message = "No profile of this invite's group is available: ask support"


class IssuerMissing(AppError):
    status = 503
    code = "ISSUER_NOT_CONFIGURED"
    message = "No card issuer is configured in this process"
