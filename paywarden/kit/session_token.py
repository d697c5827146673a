"""Session JWTs (PyJWT, HS256 under SECRET_KEY) naming a session row: `sub` who, `sid` the row.

An audience keeps one kind of session token from being taken for another: a token with one is
refused where none is expected, and the other way round.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import jwt

ALGORITHM = "HS256"


def issue(
    key: str,
    *,
    subject: uuid.UUID,
    session_id: uuid.UUID,
    issued: datetime,
    expires: datetime,
    audience: str | None = None,
) -> str:
    claims: dict[str, object] = {"sub": str(subject), "sid": str(session_id)}
    if audience is not None:
        claims["aud"] = audience
    claims.update(iat=int(issued.timestamp()), exp=int(expires.timestamp()))
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read(
    key: str, token: str, *, audience: str | None = None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(subject, session id) when the signature, expiry and audience hold, else None."""
    required = ["exp", "sub", "sid"] + (["aud"] if audience is not None else [])
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, options={"require": required}
        )
        return uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
