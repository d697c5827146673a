"""Web sign-up rules: sign up, verify the email by a signed link, sign in and out; for operators,
the list and deleting a login (its client and ledger stay).

Services take the caller's session and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.clients import service as clients
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.ratelimit import RateLimiter
from paywarden.kit.security import hash_password_async, verify_password_async
from paywarden.kit.time import utcnow
from paywarden.models import WebUser, WebUserSession
from paywarden.models.web_users import ACTIVE, DISABLED, PENDING
from paywarden.web_users import repository as repo
from paywarden.web_users import tokens
from paywarden.web_users.errors import (
    AccountDisabled,
    ClientUnauthorized,
    EmailNotVerified,
    EmailTaken,
    EmailUnavailable,
    EmptyWebUserUpdate,
    InvalidCredentials,
    TokenExpired,
    TokenInvalid,
    WebUserNotFound,
    WebUserNotVerified,
)
from paywarden.web_users.mailer import Mailer, MailUnavailable
from paywarden.web_users.repository import WebUserFilter

SESSION_TTL = timedelta(days=7)
# Like operator sign-in: per IP and per account, failed attempts only.
LOGIN_RULE = "5/15minutes"
# Each sign-up sends a mail: a cap per IP keeps this from being a mail cannon.
SIGNUP_RULE = "10/hour"
# The mailed link opens the client app, which verifies and signs in (the API route stays).
VERIFY_PATH = "/app/verify"


@dataclass(frozen=True)
class WebUsersContext:
    signing_key: str
    limiter: RateLimiter
    mailer: Mailer
    verify_ttl: timedelta
    public_base_url: str


@dataclass(frozen=True)
class SignedIn:
    user: WebUser
    session: WebUserSession
    token: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def verification_link(ctx: WebUsersContext, user: WebUser) -> str:
    token = tokens.issue_verification(ctx.signing_key, user.id, utcnow() + ctx.verify_ttl)
    return f"{ctx.public_base_url.rstrip('/')}{VERIFY_PATH}?{urlencode({'token': token})}"


async def signup(
    db: AsyncSession, ctx: WebUsersContext, email: str, password: str, ip: str | None
) -> WebUser:
    if not ctx.mailer.available:
        raise EmailUnavailable()
    await ctx.limiter.check(SIGNUP_RULE, "web-signup-ip", ip or "")
    email = normalize_email(email)
    if await repo.by_email(db, email) is not None:
        raise EmailTaken()
    user = WebUser(
        email=email,
        password_hash=await hash_password_async(password),
        status=PENDING,
        created_at=utcnow(),
    )
    repo.add(db, user)
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won
        raise EmailTaken() from exc
    await ctx.limiter.hit(SIGNUP_RULE, "web-signup-ip", ip or "")
    try:
        # Sent before the commit: when mail fails the sign-up rolls back and can be retried.
        await ctx.mailer.send_verification(user.email, verification_link(ctx, user))
    except MailUnavailable as exc:
        raise EmailUnavailable() from exc
    return user


async def verify(db: AsyncSession, ctx: WebUsersContext, token: str) -> WebUser:
    """Activate the user and create (or link) its `web_<user id>` client; a repeat is a no-op."""
    claims = tokens.read_verification(ctx.signing_key, token)
    if claims is None:
        raise TokenInvalid()
    if claims.expires <= utcnow():
        raise TokenExpired()
    user = await repo.get(db, claims.web_user_id)
    if user is None:
        raise TokenInvalid()
    if user.status == DISABLED:
        raise AccountDisabled()
    if user.status == ACTIVE and user.client_id is not None:
        return user
    client = await clients.upsert_client(db, f"web_{user.id}")
    user.client_id = client.id
    user.status = ACTIVE
    user.email_verified_at = user.email_verified_at or utcnow()
    await db.flush()
    return user


async def login(
    db: AsyncSession, ctx: WebUsersContext, email: str, password: str, ip: str | None
) -> SignedIn:
    email = normalize_email(email)
    await ctx.limiter.check(LOGIN_RULE, "web-login-ip", ip or "")
    await ctx.limiter.check(LOGIN_RULE, "web-login-account", email)
    user = await repo.by_email(db, email)
    # An unknown email is checked against a dummy hash: both answers take as long.
    if not await verify_password_async(user.password_hash if user else None, password):
        await ctx.limiter.hit(LOGIN_RULE, "web-login-ip", ip or "")
        await ctx.limiter.hit(LOGIN_RULE, "web-login-account", email)
        raise InvalidCredentials()
    assert user is not None
    # Status is told only to whoever knows the password.
    if user.status == DISABLED:
        raise AccountDisabled()
    if user.status != ACTIVE:
        raise EmailNotVerified()
    return await _open_session(db, ctx, user)


async def _open_session(db: AsyncSession, ctx: WebUsersContext, user: WebUser) -> SignedIn:
    now = utcnow()
    user.last_login_at = now
    row = WebUserSession(web_user_id=user.id, created_at=now, expires_at=now + SESSION_TTL)
    repo.add(db, row)
    await db.flush()
    token = tokens.issue_session(
        ctx.signing_key, web_user_id=user.id, session_id=row.id, issued=now, expires=row.expires_at
    )
    return SignedIn(user, row, token)


async def verify_and_sign_in(db: AsyncSession, ctx: WebUsersContext, token: str) -> SignedIn:
    """The client app's verification page: the mailed link verifies (as `verify`) and signs
    in, as the link proves the mailbox as well as the password would. Within its lifetime a
    second click signs in again."""
    return await _open_session(db, ctx, await verify(db, ctx, token))


async def authenticate(db: AsyncSession, ctx: WebUsersContext, token: str | None) -> WebUser:
    """The web user a `client_token` names: its session live and the account active."""
    claims = tokens.read_session(ctx.signing_key, token) if token else None
    if claims is None:
        raise ClientUnauthorized()
    row = await repo.session_by_id(db, claims.session_id)
    if (
        row is None
        or row.web_user_id != claims.web_user_id
        or row.revoked_at is not None
        or row.expires_at <= utcnow()
    ):
        raise ClientUnauthorized()
    user = await repo.get(db, row.web_user_id)
    if user is None or user.status != ACTIVE:
        raise ClientUnauthorized()
    return user


async def logout(db: AsyncSession, ctx: WebUsersContext, token: str | None) -> None:
    """Revoke the session the cookie names, if any; always succeeds."""
    claims = tokens.read_session(ctx.signing_key, token) if token else None
    if claims is not None:
        await repo.revoke_session(db, claims.session_id, utcnow())


# Operators


async def search(db: AsyncSession, f: WebUserFilter, q: PageQuery) -> Page[WebUser]:
    rows, total = await repo.search(db, f, q.offset, q.limit)
    return Page(list(rows), q.page, q.limit, total)


async def delete(db: AsyncSession, web_user_id: uuid.UUID, actor: Actor) -> None:
    """Delete the login (and its sessions); the linked client and its ledger stay."""
    user = await repo.get(db, web_user_id)
    if user is None:
        raise WebUserNotFound()
    audit.record(
        db,
        actor,
        "web_user.delete",
        target_type="web_user",
        target_id=user.id,
        details={
            "email": user.email,
            "status": user.status,
            "client_id": str(user.client_id) if user.client_id else None,
            "external_user_id": user.external_user_id,
        },
    )
    await repo.delete_user(db, user.id)


async def update(
    db: AsyncSession, web_user_id: uuid.UUID, changes: dict[str, Any], actor: Actor
) -> WebUser:
    """Enable or disable the login (disabling revokes its sessions: it is signed out at once),
    link it to an existing `tg_…` client or unlink it. Audited with before and after."""
    if not changes:
        raise EmptyWebUserUpdate()
    user = await repo.get(db, web_user_id)
    if user is None:
        raise WebUserNotFound()
    if changes.get("status") == ACTIVE and user.email_verified_at is None:
        raise WebUserNotVerified()
    linked = changes.get("external_user_id")
    if linked is not None:
        await clients.by_external_id(db, linked)  # 404 when the bot has no such client
    before = {k: getattr(user, k) for k, v in changes.items() if getattr(user, k) != v}
    if not before:
        return user
    for field in before:
        setattr(user, field, changes[field])
    if "status" in before and user.status == DISABLED:
        await repo.revoke_sessions_of(db, user.id, utcnow())
    await db.flush()
    audit.record(
        db,
        actor,
        "web_user.update",
        target_type="web_user",
        target_id=user.id,
        details={"before": before, "after": {k: changes[k] for k in before}},
    )
    return user
