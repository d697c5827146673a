"""Operator rules: bootstrap, sign-in with 2FA, sessions, passwords, and managing operators.

Services take the caller's session and never commit; audit rows are written in that session, so
they commit (or roll back) with the change they describe.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import SYSTEM, Actor
from paywarden.kit.crypto import keys_of
from paywarden.kit.errors import Forbidden, NotFound
from paywarden.kit.logging import get_logger
from paywarden.kit.ratelimit import RateLimiter
from paywarden.kit.security import (
    hash_password_async,
    same,
    sha256_hex,
    verify_password_async,
)
from paywarden.kit.time import utcnow
from paywarden.models import BackupCode, Operator, OperatorSession, TotpEnrollment
from paywarden.operators import repository as repo
from paywarden.operators import tokens, totp
from paywarden.operators.errors import (
    AdminTokenInvalid,
    AlreadyBootstrapped,
    BootstrapTokenInvalid,
    InvalidPassword,
    InvalidTotp,
    OperatorEmailTaken,
    PrimaryOperatorProtected,
    SetupTokenInvalid,
    TotpRequired,
)

log = get_logger(__name__)

SESSION_TTL = timedelta(hours=24)
SETUP_TTL = timedelta(minutes=10)
LOGIN_RULE = "5/15minutes"
# Seen-at is refreshed at most this often, so reading pages does not write on every request.
SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class AuthContext:
    signing_key: str
    limiter: RateLimiter
    bootstrap_token: str | None
    primary_email: str | None


@dataclass(frozen=True)
class SignedIn:
    operator: Operator
    session: OperatorSession
    token: str
    backup_codes: list[str] | None = None


@dataclass(frozen=True)
class SetupRequired:
    setup_token: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class Principal:
    operator: Operator
    session: OperatorSession

    def actor(self, ip: str | None, user_agent: str | None) -> Actor:
        return Actor(self.operator.email, self.operator.id, ip, user_agent)


# Bootstrap and the primary operator


async def bootstrap(
    db: AsyncSession,
    ctx: AuthContext,
    given_token: str | None,
    email: str,
    password: str,
    actor: Actor,
) -> Operator:
    if ctx.bootstrap_token is None:
        raise NotFound()
    await ctx.limiter.check(LOGIN_RULE, "bootstrap-ip", actor.ip or "")
    if not given_token or not same(given_token, ctx.bootstrap_token):
        await ctx.limiter.hit(LOGIN_RULE, "bootstrap-ip", actor.ip or "")
        audit.record(db, actor, "auth.bootstrap_failed", details={"reason": "bad_token"})
        raise BootstrapTokenInvalid()
    await repo.lock_operators(db)
    if await repo.count_all(db) > 0:
        raise AlreadyBootstrapped()
    operator = Operator(
        email=email.lower(),
        password_hash=await hash_password_async(password),
        role="super_admin",
        is_primary=ctx.primary_email is None,
    )
    repo.add(db, operator)
    await db.flush()
    audit.record(
        db,
        Actor(operator.email, operator.id, actor.ip, actor.user_agent),
        "operator.bootstrap",
        target_type="operator",
        target_id=operator.id,
        details={"email": operator.email, "role": operator.role, "is_primary": operator.is_primary},
    )
    return operator


async def sync_primary(db: AsyncSession, email: str | None, password: str | None) -> None:
    """Make ADMIN_EMAIL the primary super_admin; apply ADMIN_PASSWORD when .env changed it."""
    if not email:
        return
    await repo.lock_operators(db)  # replicas starting together sync one at a time
    operator = await repo.get_by_email(db, email, include_deleted=True)
    changes: dict[str, object] = {}
    if operator is None:
        if not password:
            log.warning(
                "primary_not_created", reason="ADMIN_EMAIL is set but ADMIN_PASSWORD is not"
            )
            return
        operator = Operator(email=email, password_hash="", role="super_admin", is_primary=True)
        repo.add(db, operator)
        changes["created"] = True
    if operator.deleted_at is not None:
        operator.deleted_at = None
        changes["restored"] = True
    if operator.role != "super_admin" or not operator.is_primary:
        operator.role, operator.is_primary = "super_admin", True
        changes["flagged_primary"] = True
    if password and not await verify_password_async(operator.env_password_hash, password):
        operator.password_hash = operator.env_password_hash = await hash_password_async(password)
        changes["password_from_env"] = True
    if not changes:
        return
    await db.flush()
    await repo.unflag_other_primaries(db, keep=operator.id)
    if changes.get("password_from_env") and not changes.get("created"):
        await repo.revoke_sessions(db, operator.id, utcnow())
    audit.record(
        db,
        SYSTEM,
        "operator.primary_sync",
        target_type="operator",
        target_id=operator.id,
        details={"email": operator.email, **changes},
    )


# Sign-in


async def login(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    email: str | None,
    password: str,
    code: str | None,
    actor: Actor,
) -> SignedIn | SetupRequired:
    account_key = (email or "").strip().lower() or "primary"
    await _check_limits(ctx, actor, account_key)
    operator = await (repo.get_by_email(db, email) if email else repo.get_primary(db))
    if not await verify_password_async(operator.password_hash if operator else None, password):
        await _fail(db, ctx, actor, account_key, operator, "invalid_password")
        raise InvalidPassword()
    assert operator is not None
    if not operator.totp_enabled:
        return _start_enrollment(db, operator)
    if not code:
        raise TotpRequired()
    if not await _accept_second_factor(db, operator, code.strip()):
        await _fail(db, ctx, actor, account_key, operator, "invalid_totp")
        raise InvalidTotp()
    return await _sign_in(db, ctx, operator, actor)


async def enroll(
    db: AsyncSession, ctx: AuthContext, *, setup_token: str, code: str, actor: Actor
) -> SignedIn:
    await ctx.limiter.check(LOGIN_RULE, "login-ip", actor.ip or "")
    now = utcnow()
    enrollment = await repo.enrollment_by_token_hash(db, sha256_hex(setup_token))
    if enrollment is None or enrollment.used_at is not None or enrollment.expires_at <= now:
        raise SetupTokenInvalid()
    operator = await repo.get(db, enrollment.operator_id)
    if operator is None or operator.totp_enabled:
        raise SetupTokenInvalid()
    step = totp.matching_step(keys_of(db).decrypt(enrollment.secret), code.strip())
    if step is None:
        await _fail(db, ctx, actor, operator.email, operator, "invalid_totp_enrollment")
        raise InvalidTotp()
    if not await repo.claim_enrollment(db, enrollment.id, now):
        raise SetupTokenInvalid()
    operator.totp_secret, operator.totp_enabled, operator.totp_last_step = (
        enrollment.secret,  # the Fernet token moves as it is
        True,
        step,
    )
    codes = totp.new_backup_codes()
    await repo.drop_backup_codes(db, operator.id)
    for c in codes:
        repo.add(
            db,
            BackupCode(
                operator_id=operator.id, code_hash=sha256_hex(totp.normalize_backup_code(c))
            ),
        )
    audit.record(
        db, _as(operator, actor), "auth.totp_enroll", target_type="operator", target_id=operator.id
    )
    signed = await _sign_in(db, ctx, operator, actor)
    return SignedIn(signed.operator, signed.session, signed.token, backup_codes=codes)


async def _check_limits(ctx: AuthContext, actor: Actor, account_key: str) -> None:
    await ctx.limiter.check(LOGIN_RULE, "login-ip", actor.ip or "")
    await ctx.limiter.check(LOGIN_RULE, "login-account", account_key)


async def _fail(
    db: AsyncSession,
    ctx: AuthContext,
    actor: Actor,
    account_key: str,
    operator: Operator | None,
    reason: str,
) -> None:
    await ctx.limiter.hit(LOGIN_RULE, "login-ip", actor.ip or "")
    await ctx.limiter.hit(LOGIN_RULE, "login-account", account_key)
    who = Actor("anonymous", operator.id if operator else None, actor.ip, actor.user_agent)
    audit.record(
        db,
        who,
        "auth.login_failed",
        target_type="operator",
        target_id=operator.id if operator else None,
        details={"email": account_key, "reason": reason},
    )


def _start_enrollment(db: AsyncSession, operator: Operator) -> SetupRequired:
    token = uuid.uuid4().hex + uuid.uuid4().hex
    secret = totp.new_secret()
    repo.add(
        db,
        TotpEnrollment(
            operator_id=operator.id,
            token_hash=sha256_hex(token),
            secret=keys_of(db).encrypt(secret),  # TOTP secrets are Fernet tokens at rest
            expires_at=utcnow() + SETUP_TTL,
        ),
    )
    uri = totp.otpauth_uri(operator.email, secret)
    return SetupRequired(setup_token=token, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


async def _accept_second_factor(db: AsyncSession, operator: Operator, code: str) -> bool:
    """A TOTP code from a step not yet used, or an unused backup code (then spent)."""
    if totp.is_totp_shape(code):
        secret = keys_of(db).decrypt(operator.totp_secret) if operator.totp_secret else ""
        step = totp.matching_step(secret, code)
        return step is not None and await repo.claim_totp_step(db, operator.id, step)
    code_hash = sha256_hex(totp.normalize_backup_code(code))
    return await repo.spend_backup_code(db, operator.id, code_hash, utcnow())


async def _sign_in(
    db: AsyncSession, ctx: AuthContext, operator: Operator, actor: Actor
) -> SignedIn:
    now = utcnow()
    row = OperatorSession(
        operator_id=operator.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_TTL,
        ip=actor.ip or "",
        user_agent=actor.user_agent or "",
    )
    repo.add(db, row)
    operator.last_login_at = now
    await db.flush()
    audit.record(db, _as(operator, actor), "auth.login", target_type="session", target_id=row.id)
    token = tokens.issue(
        ctx.signing_key,
        operator_id=operator.id,
        session_id=row.id,
        issued=now,
        expires=row.expires_at,
    )
    return SignedIn(operator=operator, session=row, token=token)


def _as(operator: Operator, actor: Actor) -> Actor:
    return Actor(operator.email, operator.id, actor.ip, actor.user_agent)


# Sessions


async def authenticate(db: AsyncSession, ctx: AuthContext, token: str) -> Principal:
    claims = tokens.decode(ctx.signing_key, token)
    if claims is None:
        raise AdminTokenInvalid()
    now = utcnow()
    row = await repo.get_session_row(db, claims.session_id)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AdminTokenInvalid()
    operator = await repo.get(db, row.operator_id)
    if operator is None or operator.id != claims.operator_id:
        raise AdminTokenInvalid()
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
    return Principal(operator=operator, session=row)


async def logout(db: AsyncSession, principal: Principal, actor: Actor) -> None:
    principal.session.revoked_at = utcnow()
    audit.record(db, actor, "auth.logout", target_type="session", target_id=principal.session.id)


async def change_password(
    db: AsyncSession,
    ctx: AuthContext,
    principal: Principal,
    *,
    current: str,
    new: str,
    actor: Actor,
) -> int:
    operator = principal.operator
    await ctx.limiter.check(LOGIN_RULE, "login-account", operator.email)
    if not await verify_password_async(operator.password_hash, current):
        await ctx.limiter.hit(LOGIN_RULE, "login-account", operator.email)
        audit.record(
            db,
            actor,
            "auth.password_change_failed",
            target_type="operator",
            target_id=operator.id,
            details={"reason": "invalid_password"},
        )
        raise InvalidPassword("Current password is wrong")
    operator.password_hash = await hash_password_async(new)
    ended = await repo.revoke_sessions(db, operator.id, utcnow(), keep=principal.session.id)
    audit.record(
        db,
        actor,
        "auth.password_change",
        target_type="operator",
        target_id=operator.id,
        details={"sessions_ended": ended},
    )
    return ended


async def set_language(
    db: AsyncSession, principal: Principal, language: str | None, actor: Actor
) -> None:
    """The operator's own console language (None: follow the browser); audited."""
    operator = principal.operator
    before = operator.language
    operator.language = language
    audit.record(
        db,
        actor,
        "operator.language",
        target_type="operator",
        target_id=operator.id,
        details={"from": before, "to": language},
    )


async def list_sessions(
    db: AsyncSession, principal: Principal
) -> Sequence[tuple[OperatorSession, str]]:
    only = None if principal.operator.is_primary else principal.operator.id
    return await repo.live_sessions(db, utcnow(), operator_id=only)


async def revoke_session(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, actor: Actor
) -> None:
    row = await repo.get_session_row(db, session_id)
    visible = row is not None and (
        principal.operator.is_primary or row.operator_id == principal.operator.id
    )
    if not visible or row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise NotFound("Session not found")
    row.revoked_at = utcnow()
    audit.record(
        db,
        actor,
        "session.revoke",
        target_type="session",
        target_id=row.id,
        details={"operator_id": str(row.operator_id)},
    )


# Managing operators (the primary only, but for reading)


def require_primary(principal: Principal) -> None:
    if not principal.operator.is_primary:
        raise Forbidden("Only the primary operator may manage operators")


def require_super_admin(principal: Principal) -> None:
    if principal.operator.role != "super_admin":
        raise Forbidden()


async def list_operators(db: AsyncSession) -> Sequence[Operator]:
    return await repo.list_active(db)


async def create_operator(
    db: AsyncSession, *, email: str, password: str, role: str, actor: Actor
) -> Operator:
    email = email.strip().lower()
    existing = await repo.get_by_email(db, email, include_deleted=True)
    restored = existing is not None
    if existing is not None and existing.deleted_at is None:
        raise OperatorEmailTaken()
    # A deleted operator's row is revived rather than duplicated: the audit log points at it.
    operator = existing or Operator(email=email, password_hash="")
    operator.password_hash = await hash_password_async(password)
    operator.role, operator.is_primary, operator.deleted_at = role, False, None
    operator.totp_secret, operator.totp_enabled, operator.totp_last_step = None, False, None
    repo.add(db, operator)
    await db.flush()
    await repo.drop_backup_codes(db, operator.id)
    audit.record(
        db,
        actor,
        "operator.create",
        target_type="operator",
        target_id=operator.id,
        details={"email": email, "role": role, "restored": restored},
    )
    return operator


async def delete_operator(db: AsyncSession, operator_id: uuid.UUID, actor: Actor) -> None:
    operator = await _get_or_404(db, operator_id)
    if operator.is_primary:
        raise PrimaryOperatorProtected()
    now = utcnow()
    operator.deleted_at = now
    ended = await repo.revoke_sessions(db, operator.id, now)
    audit.record(
        db,
        actor,
        "operator.delete",
        target_type="operator",
        target_id=operator.id,
        details={"email": operator.email, "sessions_ended": ended},
    )


async def reset_2fa(db: AsyncSession, operator_id: uuid.UUID, actor: Actor) -> None:
    """Clear 2FA: the operator enrolls again at the next sign-in; their sessions end now."""
    operator = await _get_or_404(db, operator_id)
    operator.totp_secret, operator.totp_enabled, operator.totp_last_step = None, False, None
    await repo.drop_backup_codes(db, operator.id)
    ended = await repo.revoke_sessions(db, operator.id, utcnow())
    audit.record(
        db,
        actor,
        "operator.reset_2fa",
        target_type="operator",
        target_id=operator.id,
        details={"email": operator.email, "sessions_ended": ended},
    )


async def _get_or_404(db: AsyncSession, operator_id: uuid.UUID) -> Operator:
    operator = await repo.get(db, operator_id)
    if operator is None:
        raise NotFound("Operator not found")
    return operator


async def purge_expired(db: AsyncSession) -> int:
    """Housekeeping: forget sessions and setups that ended over a week ago."""
    cutoff = utcnow() - timedelta(days=7)
    await repo.purge_enrollments(db, cutoff)
    return await repo.purge_dead_sessions(db, cutoff)
