"""Mini App sessions: Telegram init data, checked once by `POST /api/botcartd/session`, is
exchanged for the `client_token` cookie the client app goes on with.

The cookie is a session JWT (kit/session_token) with its own audience, `paywarden-miniapp`:
never taken for a web user's token (`paywarden-client`) nor an operator's. It names a
`client_sessions` row, so logout ends it; a banned client keeps reading, as with init data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import repository as repo
from paywarden.clients.errors import ClientUnauthorized
from paywarden.kit import session_token
from paywarden.kit.time import utcnow
from paywarden.models import Client, ClientSession

AUDIENCE = "paywarden-miniapp"
# Telegram hands the Mini App fresh init data at each opening; a week covers a browser tab
# left open, like a web sign-in.
SESSION_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Opened:
    session: ClientSession
    token: str


async def open_session(db: AsyncSession, signing_key: str, client: Client) -> Opened:
    now = utcnow()
    row = ClientSession(
        id=uuid.uuid4(), client_id=client.id, created_at=now, expires_at=now + SESSION_TTL
    )
    repo.add_session(db, row)
    token = session_token.issue(
        signing_key,
        subject=client.id,
        session_id=row.id,
        issued=now,
        expires=row.expires_at,
        audience=AUDIENCE,
    )
    return Opened(row, token)


def is_miniapp_token(signing_key: str, token: str) -> bool:
    return session_token.read(signing_key, token, audience=AUDIENCE) is not None


async def authenticate(db: AsyncSession, signing_key: str, token: str) -> Client:
    """The client a Mini App cookie names: its session live (401 UNAUTHORIZED otherwise)."""
    claims = session_token.read(signing_key, token, audience=AUDIENCE)
    if claims is None:
        raise ClientUnauthorized()
    client_id, session_id = claims
    row = await repo.session_by_id(db, session_id)
    if (
        row is None
        or row.client_id != client_id
        or row.revoked_at is not None
        or row.expires_at <= utcnow()
    ):
        raise ClientUnauthorized()
    client = await repo.get(db, client_id)
    if client is None:
        raise ClientUnauthorized()
    return client


async def close_session(db: AsyncSession, signing_key: str, token: str | None) -> None:
    """Revoke the session a Mini App cookie names, if it is one; always succeeds."""
    claims = session_token.read(signing_key, token, audience=AUDIENCE) if token else None
    if claims is not None:
        await repo.revoke_session(db, claims[1], utcnow())
