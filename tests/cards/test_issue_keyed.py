"""Issuing under the caller's card id (the client app's form key): a repeat answers the card made
under it, asking the issuer and charging once; another client's id is 404; the quote shown
before issuing (the fee, the wallet it comes from, the same refusals as issuing)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from paywarden.cards import service as cards
from paywarden.cards.errors import CardNotFound, IssuerFailed
from paywarden.issuer.base import IssuedCard
from paywarden.kit.db import Database
from paywarden.kit.errors import AppError
from paywarden.models import Client
from tests.cards.conftest import FakeIssuer, card_rows, make_holder
from tests.conftest import TEST_DATABASE_URL
from tests.subscriptions.conftest import balances, count_kind, ledger_ok, set_rate


async def issue_as(
    db: Database, issuer: FakeIssuer, client_id: uuid.UUID, card_id: uuid.UUID | None
) -> uuid.UUID:
    """One client request: its own session, committed as the route would."""
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        card = await cards.issue(session, issuer, client, "EUR", 10_000, None, card_id=card_id)
        return card.id


async def quote_for(db: Database, client_id: uuid.UUID) -> cards.IssueQuote:
    async with db.transaction() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        return await cards.quote(session, client)


class ClosedAnswers(FakeIssuer):
    """The fake issuer answering a known reference with its card's state, as the sandbox does."""

    def __init__(self, inner: FakeIssuer) -> None:
        super().__init__(cards=inner.cards)

    async def create_card(
        self, *, currency: str, monthly_limit: int, label: str | None, reference: str
    ) -> IssuedCard:
        made = await super().create_card(
            currency=currency, monthly_limit=monthly_limit, label=label, reference=reference
        )
        status = self.cards[made.issuer_card_id]["status"]
        return IssuedCard(made.issuer_card_id, made.last4, status)


async def test_a_repeated_card_id_answers_the_same_card_charged_once(db: Database) -> None:
    issuer = FakeIssuer()
    holder = await make_holder(db, eur=1000, cards_included=0, card_issue_fee=500)
    key = uuid.uuid4()
    first = await issue_as(db, issuer, holder.id, key)
    again = await issue_as(db, issuer, holder.id, key)
    assert first == again == key
    assert issuer.made() == 1
    assert await count_kind(db, "card_issue_fee") == 1
    assert await balances(db, holder.id) == {"EUR": 500, "USD": 0}
    # Without an id (the API), each call is a new card.
    assert await issue_as(db, issuer, holder.id, None) != key
    assert issuer.made() == 2
    await ledger_ok(db)


async def test_another_clients_card_id_is_404_and_the_issuer_is_not_asked(db: Database) -> None:
    issuer = FakeIssuer()
    owner = await make_holder(db)
    intruder = await make_holder(db)
    theirs = await issue_as(db, issuer, owner.id, uuid.uuid4())
    with pytest.raises(CardNotFound):
        await issue_as(db, issuer, intruder.id, theirs)
    assert issuer.made() == 1
    assert await card_rows(db, intruder.id) == []


async def test_an_id_whose_card_was_closed_again_is_refused(db: Database) -> None:
    issuer = FakeIssuer()
    holder = await make_holder(db)
    key = uuid.uuid4()
    # A first try made the card at the issuer, which closed it again when recording failed.
    made = await issuer.create_card(
        currency="EUR", monthly_limit=10_000, label=None, reference=str(key)
    )
    issuer.cards[made.issuer_card_id]["status"] = "closed"
    with pytest.raises(IssuerFailed):
        await issue_as(db, ClosedAnswers(issuer), holder.id, key)
    assert await card_rows(db, holder.id) == []


async def test_the_quote_names_the_fee_and_its_wallet(db: Database) -> None:
    free = await make_holder(db, cards_included=1)
    quote = await quote_for(db, free.id)
    assert (quote.fee_currency, quote.fee_amount, quote.summary.slots_left) == (None, 0, 1)

    eur = await make_holder(db, eur=500, cards_included=0, card_issue_fee=500)
    quote = await quote_for(db, eur.id)
    assert (quote.fee_currency, quote.fee_amount, quote.summary.slots_left) == ("EUR", 500, 0)

    usd = await make_holder(db, usd=1000, cards_included=0, card_issue_fee=500)
    await set_rate(db, 1_085_000)
    quote = await quote_for(db, usd.id)
    assert (quote.fee_currency, quote.fee_amount) == ("USD", 543)

    broke = await make_holder(db, cards_included=0, card_issue_fee=500)
    with pytest.raises(AppError) as refused:
        await quote_for(db, broke.id)
    assert refused.value.code == "INSUFFICIENT_FUNDS"
    capped = await make_holder(db, max_active_cards=0)
    with pytest.raises(AppError) as refused:
        await quote_for(db, capped.id)
    assert refused.value.code == "CARD_LIMIT_REACHED"


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="SQLite serializes writers: two requests cannot both reach the issuer",
)
async def test_a_double_tap_racing_itself_makes_one_card_left_open(db: Database) -> None:
    issuer = FakeIssuer()
    both_at_issuer = asyncio.Barrier(2)
    issuer.on_create = both_at_issuer.wait  # both requests past the checks before any records
    holder = await make_holder(db, eur=1000, cards_included=0, card_issue_fee=500)
    key = uuid.uuid4()
    answers = await asyncio.gather(*(issue_as(db, issuer, holder.id, key) for _ in range(2)))
    assert answers == [key, key]
    [row] = await card_rows(db, holder.id)
    assert issuer.cards[row.issuer_card_id]["status"] == "active"  # never closed as a loser
    assert await count_kind(db, "card_issue_fee") == 1
    assert await balances(db, holder.id) == {"EUR": 500, "USD": 0}
    await ledger_ok(db)
