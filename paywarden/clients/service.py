"""Client rules: who a client is (`tg_<id>` or `web_<id>`), created or refreshed on sight,
and the one check every changing action makes: a banned client can read but change nothing."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.clients import repository as repo
from paywarden.clients.errors import ClientBanned, ClientNotFound, InvalidExternalUserId
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.money import CENT_DECIMALS, format_units
from paywarden.kit.time import utcnow
from paywarden.models import Client
from paywarden.models.clients import ACTIVE, BANNED

EXTERNAL_USER_ID = re.compile(r"^(tg_[1-9][0-9]{0,19}|web_[A-Za-z0-9_-]{1,64})$")
APP_LANGUAGES = ("en", "ru")  # the client app's catalogs
# The highest low-balance threshold a client may set: 100,000.00 (minor units, EUR or USD).
MAX_LOW_BALANCE_THRESHOLD = 10_000_000


def check_external_user_id(external_user_id: str) -> str:
    if not isinstance(external_user_id, str) or not EXTERNAL_USER_ID.match(external_user_id):
        raise InvalidExternalUserId()
    return external_user_id


async def upsert_client(
    session: AsyncSession,
    external_user_id: str,
    *,
    display_name: str | None = None,
    username: str | None = None,
    language: str | None = None,
) -> Client:
    """Create the client on first sight, else refresh the given profile fields and last active.

    Fields given as None are left as they are. A banned client is refreshed too (it may read).
    """
    check_external_user_id(external_user_id)
    now = utcnow()
    profile = {"display_name": display_name, "username": username, "language": language}
    changes = {k: v for k, v in profile.items() if v is not None}
    values = {
        "id": uuid.uuid4(),
        "external_user_id": external_user_id,
        **profile,
        "status": ACTIVE,
        "can_create_cards": True,
        "created_at": now,
        "last_active_at": now,
    }
    return await repo.upsert(session, values, changes, now)


async def get(session: AsyncSession, client_id: uuid.UUID) -> Client:
    client = await repo.get(session, client_id)
    if client is None:
        raise ClientNotFound()
    return client


async def by_external_id(session: AsyncSession, external_user_id: str) -> Client:
    client = await repo.by_external_id(session, external_user_id)
    if client is None:
        raise ClientNotFound()
    return client


def ensure_can_change(client: Client) -> Client:
    """Every changing action of a client calls this first: 403 CLIENT_BANNED when banned."""
    if client.status == BANNED:
        raise ClientBanned()
    return client


async def set_app_language(session: AsyncSession, client: Client, language: str | None) -> Client:
    """Save the language the client chose for its app (en/ru); None: follow its Telegram
    language again. No ban check: it changes how pages read, not the client's business."""
    if language is not None and language not in APP_LANGUAGES:
        raise ValidationFailed("language must be one of: " + ", ".join(APP_LANGUAGES))
    client.app_language = language
    await session.flush()
    return client


async def set_low_balance_threshold(
    session: AsyncSession, client: Client, amount_minor: int | None
) -> Client:
    """Set the balance (minor units, EUR or USD alike) under which the bot tells the client a
    wallet fell low; None turns it off. 400 VALIDATION_ERROR unless 0 < amount <= 100000.00.
    No ban check: it changes what the client hears, not its business."""
    if amount_minor is not None and (
        type(amount_minor) is not int or not 0 < amount_minor <= MAX_LOW_BALANCE_THRESHOLD
    ):
        raise ValidationFailed(
            "low_balance_threshold must be above 0 and at most "
            f"{format_units(MAX_LOW_BALANCE_THRESHOLD, CENT_DECIMALS)} (or null: off)"
        )
    client.low_balance_threshold = amount_minor
    await session.flush()
    return client
