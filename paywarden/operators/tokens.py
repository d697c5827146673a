"""The `admin_token` cookie: a session JWT (kit/session_token, no audience) naming a session
row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from paywarden.kit import session_token

COOKIE_NAME = "admin_token"


@dataclass(frozen=True)
class TokenClaims:
    operator_id: uuid.UUID
    session_id: uuid.UUID


def issue(
    key: str, *, operator_id: uuid.UUID, session_id: uuid.UUID, issued: datetime, expires: datetime
) -> str:
    return session_token.issue(
        key, subject=operator_id, session_id=session_id, issued=issued, expires=expires
    )


def decode(key: str, token: str) -> TokenClaims | None:
    claims = session_token.read(key, token)
    return None if claims is None else TokenClaims(*claims)
