"""The history tab (`/app/tx`): card payments (filtered by card and status) or wallet lines,
page by page, in plain words.

Read-only: nothing here changes anything, so a banned client sees it all. The filters only
narrow the client's own rows; a card id that is not one of the client's cards is a 404 page,
and a bad page number (not a number, below 1, past the end) shows the first page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import service as card_transactions
from paywarden.cards import service as cards
from paywarden.client_ledger import service as client_ledger
from paywarden.clientapp import web
from paywarden.clientapp.web import SignedIn
from paywarden.console import i18n
from paywarden.kit.errors import NotFound
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.web import Session
from paywarden.models import Card

router = web.app_router()

PATH = f"{web.PREFIX}/tx"
PAGE_SIZE = 20
LAST_PAGE = 1_000_000  # PageQuery's bound
CARDS, WALLET = "cards", "wallet"

# Every card transaction status the model allows (models/cards.py TX_STATUSES).
STATUSES = {
    "pending": i18n.N_("Pending"),
    "approved": i18n.N_("Approved, money on hold"),
    "declined": i18n.N_("Declined"),
    "settled": i18n.N_("Paid"),
    "reversed": i18n.N_("Cancelled by the shop"),
    "refunded": i18n.N_("Refunded"),
    "expired": i18n.N_("Cancelled, money released"),
}
# Every decline reason the authorization and the issuer's events can record (issuer/base.py
# DeclineReason, models/cards.py DECLINE_REASONS), as a sentence the client can act on.
DECLINE_REASONS = {
    "insufficient_funds": i18n.N_(
        "Not enough money in your wallet. Top up or convert, then pay again."
    ),
    "do_not_honor": i18n.N_(
        "The payment was refused for your account. Write to support to find out why."
    ),
    "3ds_failed": i18n.N_(
        "The confirmation code was wrong or not entered in time. Pay again and type the new code."
    ),
    "card_inactive": i18n.N_("The card is frozen or closed. Unfreeze it or use another card."),
    "spending_limit": i18n.N_(
        "This payment is over the card's monthly limit. Raise the limit on the Cards tab."
    ),
    "suspected_fraud": i18n.N_(
        "The card service stopped this payment as suspicious. Write to support if it was you."
    ),
    "other": i18n.N_("The card service declined this payment. Try again or write to support."),
}
UNKNOWN_REASON = i18n.N_("The payment was declined. Write to support if you do not know why.")
# Every ledger transaction kind (models/ledger.py KINDS).
KINDS = {
    "topup": i18n.N_("Top-up"),
    "topup_fee": i18n.N_("Top-up fee"),
    "subscription_fee": i18n.N_("Plan fee"),
    "card_issue_fee": i18n.N_("Card fee"),
    "card_spend": i18n.N_("Card payment"),
    "card_refund": i18n.N_("Card refund"),
    "fx": i18n.N_("Conversion"),
    "adjustment": i18n.N_("Correction by support"),
    "demo": i18n.N_("Demo money"),
}
OTHER_KIND = i18n.N_("Other")
CARD_NOT_YOURS = i18n.N_(
    "This card is not one of yours. Open History again and pick a card from the list."
)


def decline_text(reason: str | None) -> str:
    return DECLINE_REASONS.get(reason or "", UNKNOWN_REASON)


@dataclass(frozen=True)
class TxView:
    id: uuid.UUID
    merchant: str | None
    amount: int  # the card's currency: settled if it settled, else authorized (fee included)
    currency: str
    shop_amount: int | None  # the purchase in the shop's currency, when another
    shop_currency: str
    fx_fee: int
    refunded: int
    last4: str | None
    status: str
    status_text: str
    reason_text: str | None
    created_at: datetime


@dataclass(frozen=True)
class LineView:
    id: uuid.UUID
    kind_text: str
    amount: int  # signed: + into the wallet, - out of it
    currency: str
    note: str | None
    created_at: datetime


def page_number(value: str | None) -> int:
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return number if 1 <= number <= LAST_PAGE else 1


def _card_label(card: Card) -> str:
    label = f"•••• {card.last4 or '····'} · {card.currency}"
    return f"{label} · {card.label}" if card.label else label


def _card_filter(request: Request, value: str, mine: dict[uuid.UUID, Card]) -> uuid.UUID | None:
    """The chosen card, one of the client's: any other id is as missing as none (404)."""
    if not value:
        return None
    try:
        card_id = uuid.UUID(value)
    except ValueError:
        card_id = None
    if card_id is None or card_id not in mine:
        raise web.refusal(
            request, NotFound(), {"NOT_FOUND": CARD_NOT_YOURS}, back=f"{web.PREFIX}/tx"
        )
    return card_id


async def _first_page_past_the_end(fetch: Any, number: int) -> Page[Any]:
    """The page asked for; past the end (a stale or edited link), the first page."""
    shown: Page[Any] = await fetch(PageQuery(page=number, limit=PAGE_SIZE))
    if not shown.items and number > 1:
        shown = await fetch(PageQuery(page=1, limit=PAGE_SIZE))
    return shown


def _url(**params: Any) -> str:
    given = {k: v for k, v in params.items() if v not in (None, "", 1)}
    return f"{PATH}?{urlencode(given)}" if given else PATH


def _pager(shown: Page[Any], **filters: Any) -> dict[str, Any]:
    pages = max(1, shown.pagination().total_pages)
    return {
        "number": shown.page,
        "pages": pages,
        "newer": _url(**filters, page=shown.page - 1) if shown.page > 1 else None,
        "older": _url(**filters, page=shown.page + 1) if shown.page < pages else None,
    }


async def _card_payments(
    db: AsyncSession,
    client_id: uuid.UUID,
    mine: dict[uuid.UUID, Card],
    card_id: uuid.UUID | None,
    status: str | None,
    number: int,
) -> tuple[list[TxView], dict[str, Any]]:
    async def fetch(q: PageQuery) -> Page[Any]:
        return await card_transactions.client_transactions(
            db, client_id, q, card_id=card_id, status=status
        )

    shown = await _first_page_past_the_end(fetch, number)
    rows = [
        TxView(
            id=tx.id,
            merchant=tx.merchant,
            amount=tx.settled_amount if tx.settled_amount is not None else tx.amount,
            currency=tx.currency,
            shop_amount=tx.merchant_amount if tx.merchant_currency != tx.currency else None,
            shop_currency=tx.merchant_currency,
            fx_fee=tx.fx_fee,
            refunded=tx.refunded_amount,
            last4=mine[tx.card_id].last4 if tx.card_id in mine else None,
            status=tx.status,
            status_text=STATUSES.get(tx.status, tx.status),
            reason_text=decline_text(tx.decline_reason) if tx.status == "declined" else None,
            created_at=tx.created_at,
        )
        for tx in shown.items
    ]
    return rows, _pager(shown, show=CARDS, card=card_id, status=status)


async def _wallet_lines(
    db: AsyncSession, client_id: uuid.UUID, number: int
) -> tuple[list[LineView], dict[str, Any]]:
    async def fetch(q: PageQuery) -> Page[Any]:
        return await client_ledger.lines(db, client_id, q)

    shown = await _first_page_past_the_end(fetch, number)
    rows = [
        LineView(
            id=posting.id,
            kind_text=KINDS.get(entry.kind, OTHER_KIND),
            amount=posting.amount,
            currency=posting.currency,
            note=entry.note,
            created_at=posting.created_at,
        )
        for posting, entry in shown.items
    ]
    return rows, _pager(shown, show=WALLET)


def _card_choices(owned: Sequence[Card]) -> list[tuple[str, str]]:
    return [(str(card.id), _card_label(card)) for card in owned]


@router.get("/tx", response_class=HTMLResponse)
async def history(
    request: Request,
    me: SignedIn,
    db: Session,
    show: str = "",
    card: str = "",
    status: str = "",
    page: str = "",
) -> HTMLResponse:
    owned = await cards.list_for(db, me.id)
    mine = {c.id: c for c in owned}
    view = show if show in (CARDS, WALLET) else (CARDS if owned or card or status else WALLET)
    context: dict[str, Any] = {
        "tab": "tx",
        "title": i18n.N_("History"),
        "banner": await web.banner_for(db, "tx"),
        "show": view,
        "cards_url": _url(show=CARDS),
        "wallet_url": _url(show=WALLET),
    }
    if view == CARDS:
        card_id = _card_filter(request, card, mine)
        chosen_status = status if status in STATUSES else None
        rows, pager = await _card_payments(
            db, me.id, mine, card_id, chosen_status, page_number(page)
        )
        context.update(
            transactions=rows,
            pager=pager,
            card_choices=_card_choices(owned),
            status_choices=list(STATUSES.items()),
            card=str(card_id) if card_id else "",
            status=chosen_status or "",
            filtered=bool(card_id or chosen_status),
        )
    else:
        lines, pager = await _wallet_lines(db, me.id, page_number(page))
        context.update(lines=lines, pager=pager)
    return web.render(request, "tx/history.html", context)
