"""Signed tokens of web users, both JWTs (PyJWT, HS256 under SECRET_KEY), each with its own
audience so one is never taken for the other (nor for an operator's token):

- The email verification token: audience `paywarden-web-verify`, `sub` the user's id, `exp` the
  link's expiry (WEB_VERIFY_TTL_SECONDS). Nothing is stored for it: verifying twice is a no-op
  (the user is already active), so the link needs no single-use record. Links mailed before
  this format (`<payload>.<mac>`, before issue 16) answer TOKEN_INVALID: the user signs in or
  asks for a new link as for any bad link.
- The `client_token` cookie: audience `paywarden-client`, naming a `web_user_sessions` row, so
  logout revokes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from paywarden.kit import session_token

COOKIE_NAME = "client_token"
AUDIENCE = "paywarden-client"
VERIFY_AUDIENCE = "paywarden-web-verify"
_ALGORITHM = session_token.ALGORITHM
_MAX_TOKEN_LENGTH = 512  # a verification JWT is about 200 characters


def cookie_options(secure: bool) -> dict[str, object]:
    """The `client_token` cookie's attributes, for setting and clearing it alike. Lax, not
    Strict: the mailed verification link is a cross-site navigation that must sign in."""
    return {"path": "/", "httponly": True, "samesite": "lax", "secure": secure}


def issue_verification(key: str, web_user_id: uuid.UUID, expires: datetime) -> str:
    claims = {"sub": str(web_user_id), "aud": VERIFY_AUDIENCE, "exp": int(expires.timestamp())}
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


@dataclass(frozen=True)
class Verification:
    web_user_id: uuid.UUID
    expires: datetime


def read_verification(key: str, token: str) -> Verification | None:
    """The token's content when its signature holds, else None. The expiry is not checked here:
    the caller tells an expired link (TOKEN_EXPIRED) from a bad one (TOKEN_INVALID)."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=VERIFY_AUDIENCE,
            options={"require": ["exp", "sub", "aud"], "verify_exp": False},
        )
        return Verification(uuid.UUID(claims["sub"]), datetime.fromtimestamp(claims["exp"], UTC))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class SessionClaims:
    web_user_id: uuid.UUID
    session_id: uuid.UUID


def issue_session(
    key: str, *, web_user_id: uuid.UUID, session_id: uuid.UUID, issued: datetime, expires: datetime
) -> str:
    return session_token.issue(
        key,
        subject=web_user_id,
        session_id=session_id,
        issued=issued,
        expires=expires,
        audience=AUDIENCE,
    )


def read_session(key: str, token: str) -> SessionClaims | None:
    claims = session_token.read(key, token, audience=AUDIENCE)
    return None if claims is None else SessionClaims(*claims)
