"""The `admin_token` cookie: a JWT (HS256, SECRET_KEY) that names a session row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

COOKIE_NAME = "admin_token"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    operator_id: uuid.UUID
    session_id: uuid.UUID


def issue(
    key: str, *, operator_id: uuid.UUID, session_id: uuid.UUID, issued: datetime, expires: datetime
) -> str:
    claims = {
        "sub": str(operator_id),
        "sid": str(session_id),
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def decode(key: str, token: str) -> TokenClaims | None:
    try:
        claims = jwt.decode(
            token, key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
        return TokenClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
