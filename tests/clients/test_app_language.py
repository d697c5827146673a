"""The client app's language a client chose: saved (en/ru), cleared to follow Telegram again,
anything else refused; a banned client may set it too."""

from __future__ import annotations

import pytest

from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.models import Client
from tests.clients.test_auth import ban, make_client


async def _set(db: Database, client: Client, language: str | None) -> str | None:
    async with db.transaction() as session:
        row = await clients.get(session, client.id)
        await clients.set_app_language(session, row, language)
    async with db.transaction() as session:
        return (await clients.get(session, client.id)).app_language


async def test_the_choice_is_saved_and_cleared(ledger: Database) -> None:
    client = await make_client(ledger, "tg_9100", language="ru")
    assert await _set(ledger, client, "en") == "en"
    assert await _set(ledger, client, "ru") == "ru"
    assert await _set(ledger, client, None) is None


async def test_only_the_apps_languages_are_taken(ledger: Database) -> None:
    client = await make_client(ledger, "tg_9101")
    await _set(ledger, client, "ru")
    for language in ("de", "EN", "", "en-US"):
        with pytest.raises(AppError) as refused:
            await _set(ledger, client, language)
        assert refused.value.code == "VALIDATION_ERROR"
    async with ledger.transaction() as session:
        assert (await clients.get(session, client.id)).app_language == "ru"


async def test_a_banned_client_may_set_its_language(ledger: Database) -> None:
    client = await make_client(ledger, "tg_9102")
    await ban(ledger, client.id)
    assert await _set(ledger, client, "ru") == "ru"
