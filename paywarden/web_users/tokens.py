"""Signed tokens of web users.

- The email verification token: `<payload>.<mac>`, both base64url; the payload is the user's id
  (16 bytes) and the expiry (8 bytes, Unix seconds); the mac is HMAC-SHA256 under SECRET_KEY
  (with a purpose label), checked in constant time.
- The `client_token` cookie: a JWT (HS256, SECRET_KEY, audience `paywarden-client`) naming a
  `web_user_sessions` row, so logout revokes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

COOKIE_NAME = "client_token"
AUDIENCE = "paywarden-client"
_ALGORITHM = "HS256"
_VERIFY_LABEL = b"paywarden web-user email verification v1\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode(), _VERIFY_LABEL + payload, hashlib.sha256).digest()


def issue_verification(key: str, web_user_id: uuid.UUID, expires: datetime) -> str:
    payload = web_user_id.bytes + struct.pack(">q", int(expires.timestamp()))
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


@dataclass(frozen=True)
class Verification:
    web_user_id: uuid.UUID
    expires: datetime


def read_verification(key: str, token: str) -> Verification | None:
    """The token's content when its signature holds (expiry not checked here), else None."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
        return None
    payload_text, mac_text = token.split(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if len(payload) != 24 or not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    (expires,) = struct.unpack(">q", payload[16:])
    try:
        when = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Verification(uuid.UUID(bytes=payload[:16]), when)


@dataclass(frozen=True)
class SessionClaims:
    web_user_id: uuid.UUID
    session_id: uuid.UUID


def issue_session(
    key: str, *, web_user_id: uuid.UUID, session_id: uuid.UUID, issued: datetime, expires: datetime
) -> str:
    claims = {
        "sub": str(web_user_id),
        "sid": str(session_id),
        "aud": AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def read_session(key: str, token: str) -> SessionClaims | None:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "sid", "aud"]},
        )
        return SessionClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
