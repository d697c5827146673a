"""The history tab: card payments with their status and decline reason in plain words, filtered
by card and status, page by page; wallet lines with their kind and signed amount; never another
client's rows; with a Telegram session and a web session, on both databases."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import get_args

import httpx
from markupsafe import escape

from paywarden.clientapp import tx_pages
from paywarden.config import Settings
from paywarden.issuer.base import DeclineReason
from paywarden.issuer.sandbox import DECLINE_CODES
from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models.cards import DECLINE_REASONS, TX_STATUSES
from paywarden.models.ledger import KINDS
from tests.banners.conftest import create as create_banner
from tests.card_transactions.conftest import authorization, authorize
from tests.card_transactions.test_client_reads import add_card_transaction
from tests.clientapp.conftest import MAX_HTML, client_id_of
from tests.clientapp.test_3ds import give_card
from tests.clients.test_auth import ban
from tests.subscriptions.conftest import fund
from tests.wallets.conftest import credit

TX = "/app/tx"
_ROW = re.compile(
    r'<li id="tx-[^"]+" class="tx tx-\w+">\s*<div class="row-head"><strong[^>]*>([^<]+)<'
)


def merchants(page: str) -> list[str]:
    """The card payments' shops, in the order shown."""
    return _ROW.findall(page)


async def test_card_payments_in_plain_words(
    http: httpx.AsyncClient, db: Database, admin_client: httpx.AsyncClient
) -> None:
    buyer = await give_card(db, await client_id_of(http), last4="4321")
    now = utcnow()
    await add_card_transaction(
        db, buyer, "Paid Shop", status="settled", settled_amount=1_200, at=now
    )
    await add_card_transaction(
        db,
        buyer,
        "Broke Shop",
        status="declined",
        reason="insufficient_funds",
        at=now - timedelta(minutes=1),
    )
    await add_card_transaction(
        db, buyer, "Gone Shop", status="reversed", at=now - timedelta(minutes=2)
    )
    await add_card_transaction(
        db,
        buyer,
        "Back Shop",
        status="refunded",
        settled_amount=1_250,
        refunded_amount=500,
        at=now - timedelta(minutes=3),
    )
    await add_card_transaction(
        db,
        buyer,
        "Dollar Shop",
        amount=2_030,
        fx_fee=30,
        merchant_amount=2_150,
        merchant_currency="USD",
        at=now - timedelta(minutes=4),
    )
    banner = await create_banner(admin_client, page="tx")

    page = await http.get(TX)
    assert page.status_code == 200
    assert len(page.content) < MAX_HTML
    text = page.text
    assert banner["id"] in text
    assert "/static/tx.css" in text
    assert 'id="show-cards" aria-current="page"' in text
    assert merchants(text) == ["Paid Shop", "Broke Shop", "Gone Shop", "Back Shop", "Dollar Shop"]
    assert "12.00 EUR" in text  # what settled, not what was held
    assert "•••• 4321" in text
    for words in (
        "Paid",
        "Declined",
        "Cancelled by the shop",
        "Refunded",
        "Approved, money on hold",
    ):
        assert f">{words}</span>" in text
    assert "Not enough money in your wallet. Top up or convert, then pay again." in text
    assert "21.50 USD at the shop · includes a 0.30 EUR conversion fee" in text
    assert "5.00 EUR refunded to your wallet" in text
    assert "insufficient_funds" not in text  # the machine code stays out of sight


def test_every_status_reason_and_kind_has_plain_words() -> None:
    reasons = set(DECLINE_REASONS) | set(get_args(DeclineReason)) | set(DECLINE_CODES.values())
    assert reasons <= set(tx_pages.DECLINE_REASONS)
    assert set(TX_STATUSES) <= set(tx_pages.STATUSES)
    assert set(KINDS) <= set(tx_pages.KINDS)
    assert tx_pages.decline_text("a_new_issuer_code") == tx_pages.UNKNOWN_REASON
    assert tx_pages.decline_text(None) == tx_pages.UNKNOWN_REASON
    sentences = [tx_pages.decline_text(r) for r in sorted(reasons)]
    assert len(set(sentences)) == len(sentences)


async def test_every_decline_reason_shows_its_sentence(
    http: httpx.AsyncClient, db: Database
) -> None:
    buyer = await give_card(db, await client_id_of(http))
    for reason in DECLINE_REASONS:
        await add_card_transaction(db, buyer, f"Shop {reason}", status="declined", reason=reason)
    page = await http.get(TX, params={"status": "declined"})
    assert page.status_code == 200
    for reason in DECLINE_REASONS:
        assert escape(tx_pages.DECLINE_REASONS[reason]) in page.text
    assert page.text.count('class="reason"') == len(DECLINE_REASONS)


async def test_declines_by_the_authorization_read_in_plain_words(
    http: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    buyer = await give_card(db, await client_id_of(http))
    await fund(db, buyer.client_id, "EUR", 1_000)
    poor = await authorize(http, settings, authorization(buyer, 2_000, merchant="Too Dear"))
    over = await authorize(http, settings, authorization(buyer, 60_000, merchant="Over Limit"))
    assert (poor["approved"], over["approved"]) == (False, False)
    page = await http.get(TX)
    assert merchants(page.text) == ["Over Limit", "Too Dear"]
    assert "Not enough money in your wallet." in page.text
    assert "This payment is over the card&#39;s monthly limit." in page.text


async def test_filters_by_card_and_status(http: httpx.AsyncClient, db: Database) -> None:
    client_id = await client_id_of(http)
    first = await give_card(db, client_id, last4="1111")
    second = await give_card(db, client_id, last4="2222", currency="USD")
    now = utcnow()
    await add_card_transaction(db, first, "First Ok", at=now)
    await add_card_transaction(
        db, first, "First No", status="declined", reason="other", at=now - timedelta(1)
    )
    await add_card_transaction(db, second, "Second Ok", at=now - timedelta(2))
    await add_card_transaction(
        db, second, "Second No", status="declined", reason="other", at=now - timedelta(3)
    )

    by_card = await http.get(TX, params={"card": str(first.card_id)})
    assert merchants(by_card.text) == ["First Ok", "First No"]
    assert f'<option value="{first.card_id}" selected>' in by_card.text
    assert "•••• 2222 · USD" in by_card.text  # the other card stays offered
    by_status = await http.get(TX, params={"status": "declined"})
    assert merchants(by_status.text) == ["First No", "Second No"]
    assert '<option value="declined" selected>' in by_status.text
    both = await http.get(TX, params={"card": str(second.card_id), "status": "approved"})
    assert merchants(both.text) == ["Second Ok"]
    assert 'id="clear-filters"' in both.text
    unknown_status = await http.get(TX, params={"status": "stolen"})  # no such status: all
    assert len(merchants(unknown_status.text)) == 4
    none = await http.get(TX, params={"card": str(first.card_id), "status": "refunded"})
    assert 'id="no-transactions"' in none.text
    assert "No card payments match these filters." in none.text


async def test_another_clients_transactions_never_appear(
    http: httpx.AsyncClient, other_tg: httpx.AsyncClient, db: Database
) -> None:
    mine = await give_card(db, await client_id_of(http), last4="1010")
    theirs = await give_card(db, await client_id_of(other_tg), last4="9090")
    await add_card_transaction(db, mine, "My Shop")
    await add_card_transaction(
        db, theirs, "Their Shop", status="declined", reason="suspected_fraud"
    )
    page = await http.get(TX)
    assert merchants(page.text) == ["My Shop"]
    assert str(theirs.card_id) not in page.text
    assert "9090" not in page.text
    for card in (str(theirs.card_id), "not-a-card", str(uuid.uuid4())):
        refused = await http.get(TX, params={"card": card, "status": "declined"})
        assert refused.status_code == 404
        assert "Their Shop" not in refused.text
        assert "This card is not one of yours." in refused.text
    theirs_page = await other_tg.get(TX)
    assert merchants(theirs_page.text) == ["Their Shop"]


async def test_pages_keep_the_filters(http: httpx.AsyncClient, db: Database) -> None:
    buyer = await give_card(db, await client_id_of(http))
    now = utcnow()
    for n in range(45):
        at = now - timedelta(minutes=n)
        await add_card_transaction(
            db, buyer, f"Shop {n:02d}", status="declined", reason="other", at=at
        )
    await add_card_transaction(db, buyer, "Approved Shop", at=now + timedelta(minutes=1))
    filters = {"card": str(buyer.card_id), "status": "declined"}

    first = await http.get(TX, params=filters)
    assert merchants(first.text) == [f"Shop {n:02d}" for n in range(20)]
    assert "Page 1 of 3" in first.text
    query = f"show=cards&amp;card={buyer.card_id}&amp;status=declined"
    assert f'href="/app/tx?{query}&amp;page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    second = await http.get(TX, params={**filters, "page": "2"})
    assert merchants(second.text)[0] == "Shop 20"
    assert f'href="/app/tx?{query}" rel="prev"' in second.text
    assert f'href="/app/tx?{query}&amp;page=3" rel="next"' in second.text
    last = await http.get(TX, params={**filters, "page": "3"})
    assert merchants(last.text) == [f"Shop {n:02d}" for n in range(40, 45)]
    assert 'rel="next"' not in last.text
    for bad in ("abc", "0", "-2", "99", "1.5", "99999999999"):
        shown = await http.get(TX, params={**filters, "page": bad})
        assert shown.status_code == 200
        assert merchants(shown.text) == merchants(first.text)
        assert "Page 1 of 3" in shown.text
    assert len(first.content) < MAX_HTML


async def test_wallet_lines_with_kind_and_signed_amount(
    http: httpx.AsyncClient, db: Database
) -> None:
    client_id = await client_id_of(http)
    await give_card(db, client_id)  # with a card, card payments are shown first
    async with db.transaction() as session:
        await credit(session, client_id, "EUR", 10_000)
        await credit(session, client_id, "EUR", -500, kind="subscription_fee")
        await credit(session, client_id, "USD", 2_000, kind="fx")
    first = await http.get(TX)
    assert 'id="wallet-lines"' not in first.text
    page = await http.get(TX, params={"show": "wallet"})
    assert page.status_code == 200
    text = page.text
    assert 'id="show-wallet" aria-current="page"' in text
    assert 'id="tx-filters"' not in text
    lines = text[text.index('id="wallet-lines"') :]
    assert lines.index("Conversion") < lines.index("Plan fee") < lines.index("Top-up")
    assert '<span class="amount ok">+100.00 EUR</span>' in lines
    assert '<span class="amount ">-5.00 EUR</span>' in lines
    assert "+20.00 USD" in lines


async def test_wallet_lines_page_by_page(http: httpx.AsyncClient, db: Database) -> None:
    client_id = await client_id_of(http)
    async with db.transaction() as session:
        for _ in range(25):
            await credit(session, client_id, "EUR", 100)
    first = await http.get(TX)  # no card: the wallet is shown first
    assert 'id="show-wallet" aria-current="page"' in first.text
    assert first.text.count('<li id="line-') == 20
    assert 'href="/app/tx?show=wallet&amp;page=2" rel="next"' in first.text
    second = await http.get(TX, params={"show": "wallet", "page": "2"})
    assert second.text.count('<li id="line-') == 5
    assert "Page 2 of 2" in second.text
    past = await http.get(TX, params={"show": "wallet", "page": "7"})
    assert past.text.count('<li id="line-') == 20


async def test_nothing_yet(http: httpx.AsyncClient) -> None:
    wallet = await http.get(TX)
    assert 'id="no-lines"' in wallet.text
    cards = await http.get(TX, params={"show": "cards"})
    assert "No card payments yet." in cards.text
    assert 'id="pager"' not in cards.text


async def test_a_banned_client_reads_its_history(http: httpx.AsyncClient, db: Database) -> None:
    buyer = await give_card(db, await client_id_of(http))
    await add_card_transaction(db, buyer, "Old Shop", status="settled", settled_amount=1_250)
    await fund(db, buyer.client_id, "EUR", 700)
    await ban(db, buyer.client_id)
    page = await http.get(TX)
    assert page.status_code == 200
    assert 'id="banned"' in page.text
    assert merchants(page.text) == ["Old Shop"]
    wallet = await http.get(TX, params={"show": "wallet"})
    assert "+7.00 EUR" in wallet.text


async def test_a_visitor_without_a_session_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get(TX, params={"show": "wallet"})
    assert page.status_code == 303
    assert page.headers["location"] == "/app/?next=/app/tx%3Fshow%3Dwallet"
