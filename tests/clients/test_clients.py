"""Clients: created or refreshed on sight by external_user_id; a banned client changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from paywarden.clients import service as clients
from paywarden.clients.errors import ClientBanned, InvalidExternalUserId
from paywarden.kit.db import Database
from paywarden.models import Client


async def test_upsert_creates_then_refreshes_only_the_given_fields(ledger: Database) -> None:
    async with ledger.transaction() as session:
        made = await clients.upsert_client(
            session, "tg_123456789", display_name="Ann", username="ann", language="en"
        )
    assert made.status == "active"
    assert made.can_create_cards is True
    assert made.max_active_cards is None
    assert made.plan_id is None
    assert made.created_at.tzinfo is not None

    async with ledger.transaction() as session:
        again = await clients.upsert_client(session, "tg_123456789", language="de")
    assert again.id == made.id
    assert (again.display_name, again.username, again.language) == ("Ann", "ann", "de")
    assert again.last_active_at is not None
    assert again.last_active_at >= made.last_active_at  # type: ignore[operator]

    async with ledger.transaction() as session:
        found = await clients.by_external_id(session, "tg_123456789")
    assert found.id == made.id


@pytest.mark.parametrize("bad", ["123", "tg_", "tg_abc", "tg_0123", "web_", "xx_1", "web_a b"])
async def test_external_user_id_shape(ledger: Database, bad: str) -> None:
    async with ledger.transaction() as session:
        with pytest.raises(InvalidExternalUserId) as caught:
            await clients.upsert_client(session, bad)
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")


async def test_a_banned_client_can_change_nothing(ledger: Database) -> None:
    async with ledger.transaction() as session:
        client = await clients.upsert_client(session, "web_abc123")
        assert clients.ensure_can_change(client) is client
        await session.execute(update(Client).where(Client.id == client.id).values(status="banned"))
    async with ledger.transaction() as session:
        banned = await clients.upsert_client(session, "web_abc123", username="still_reads")
        assert banned.status == "banned"
        with pytest.raises(ClientBanned) as caught:
            clients.ensure_can_change(banned)
    assert (caught.value.status, caught.value.code) == (403, "CLIENT_BANNED")
