"""`subscriptions.service.active_cards` and the subscription summary built on it: every card
not closed takes a slot (a frozen one too), other clients' cards don't."""

from __future__ import annotations

import uuid

from paywarden.kit.db import Database
from paywarden.models import Card, Client
from paywarden.subscriptions import service as subscriptions
from tests.cards.conftest import Holder, make_holder, set_client


async def _add_card(db: Database, client_id: uuid.UUID, status: str) -> None:
    async with db.transaction() as session:
        session.add(
            Card(
                client_id=client_id,
                issuer="fake",
                issuer_card_id=f"fc_{uuid.uuid4().hex}",
                currency="EUR",
                monthly_limit=10_000,
                status=status,
            )
        )


async def _summary(db: Database, holder: Holder) -> subscriptions.SubscriptionSummary:
    async with db.transaction() as session:
        client = await session.get(Client, holder.id)
        assert client is not None
        return await subscriptions.summary(session, client)


async def test_open_cards_fill_the_slots_and_the_cap(db: Database) -> None:
    holder = await make_holder(db, cards_included=2, max_active_cards=3, card_issue_fee=250)
    other = await make_holder(db)
    await _add_card(db, other.id, "active")  # someone else's
    first = await _summary(db, holder)
    assert (first.active_cards, first.slots_left, first.next_card_issue_fee) == (0, 2, 0)
    assert first.can_create_cards

    await _add_card(db, holder.id, "active")
    await _add_card(db, holder.id, "closed")
    await _add_card(db, holder.id, "frozen")
    async with db.transaction() as session:
        assert await subscriptions.active_cards(session, holder.id) == 2
    full = await _summary(db, holder)
    assert (full.active_cards, full.slots_left, full.next_card_issue_fee) == (2, 0, 250)
    assert full.can_create_cards  # 2 of 3

    await _add_card(db, holder.id, "active")
    capped = await _summary(db, holder)
    assert (capped.active_cards, capped.max_active, capped.can_create_cards) == (3, 3, False)
    await set_client(db, holder.id, max_active_cards=4)  # the override lifts the cap
    assert (await _summary(db, holder)).can_create_cards
