"""The cards tab (`/app/card`): the client's cards with their limit, month's spend and state;
issuing one (the fee and the slots left shown before confirming); freeze, unfreeze, close and a
new monthly limit; the card's details revealed behind a confirmation.

Every change goes through the cards service as the client API does, on the client's own cards
only (another client's card is 404). The card's details are fetched from the issuer on each
reveal, shown in a POST's answer (never in a URL), never cached and never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from paywarden.cards import service as cards
from paywarden.cards.errors import InvalidCardState
from paywarden.cards.schemas import CardIn, CardLimitIn
from paywarden.client_state import service as client_state
from paywarden.clientapp import web
from paywarden.clientapp.web import PREFIX, SignedIn
from paywarden.console import i18n
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.errors import AppError
from paywarden.kit.web import Session
from paywarden.models import Card, Client
from paywarden.models.cards import CARD_CLOSED
from paywarden.models.ledger import EUR
from paywarden.plans.amounts import format_cents
from paywarden.subscriptions import service as subscriptions

router = web.app_router()
T = TypeVar("T")

TAB = f"{PREFIX}/card"
REVEAL_SECONDS = 60

# "active" is said in the template with its context (the word's gender differs in Russian).
STATES = {"frozen": i18n.N_("Frozen"), "closed": i18n.N_("Closed")}
# What the tab says after an action (`?done=<action>`).
DONE = {
    "issue": i18n.N_("Your new card is ready to use."),
    "freeze": i18n.N_("The card is frozen: purchases are declined until you unfreeze it."),
    "unfreeze": i18n.N_("The card works again."),
    "close": i18n.N_("The card is closed."),
    "limit": i18n.N_("The monthly limit is changed."),
}
# Refusals whose plain words on this tab differ from web.PLAIN_ERRORS.
REFUSALS = {
    "CARDS_DISABLED": i18n.N_(
        "Issuing cards is turned off for your account. Write to support to find out why."
    ),
    "INVALID_STATE": i18n.N_("This card is closed, so it cannot be changed or shown any more."),
    "ISSUER_ERROR": i18n.N_(
        "The card service refused this. Nothing was charged. Open the Cards tab and try again; "
        "if it happens again, write to support."
    ),
    "NOT_FOUND": i18n.N_(
        "We could not find this card. It may belong to another account. Open the Cards tab "
        "and pick one of your cards."
    ),
}
CARDS_OFF = i18n.N_(
    "Cards are not offered here at the moment, so they cannot be issued or changed. Your "
    "wallet is not affected."
)
FORM_EXPIRED = i18n.N_("This form is incomplete. Open the Cards tab and try again.")
LIMIT_ERROR = i18n.N_("Enter a monthly limit above 0 and at most 100000, such as 500 or 500.00.")
FORM_ERRORS = {
    "currency": i18n.N_("Pick the card's currency: EUR or USD."),
    "label": i18n.N_("The name is at most 64 characters."),
    "monthly_limit": LIMIT_ERROR,
}
CLOSE_NOTE = i18n.N_(
    "Closing is for good: the card stops working at once and cannot be opened again. To stop "
    "it for a while, freeze it instead."
)
REVEAL_NOTE = i18n.N_(
    "The number, expiry date and CVV are shown for 60 seconds, then hidden again. Make sure "
    "nobody can see your screen."
)


@dataclass(frozen=True)
class CardView:
    """A card as the tab shows it: amounts in cents of its currency."""

    id: uuid.UUID
    last4: str
    currency: str
    label: str | None
    status: str
    limit: int
    spent: int  # this month's (the service's month counter)

    @classmethod
    def of(cls, card: Card) -> CardView:
        return cls(
            card.id,
            card.last4 or "····",
            card.currency,
            card.label,
            card.status,
            card.monthly_limit,
            cards.spent_this_month(card),
        )

    @property
    def left(self) -> int:
        return max(self.limit - self.spent, 0)

    @property
    def name(self) -> str:
        return f"•••• {self.last4} · {self.currency}"


# Helpers


def _issuer(request: Request) -> IssuerAdapter:
    """The issuer adapter; none means the installation runs without the cards product."""
    adapter: IssuerAdapter | None = getattr(request.app.state, "issuer", None)
    if adapter is None:
        raise web.Page(web.error_page(request, 503, CARDS_OFF, back=TAB))
    return adapter


def _refused(request: Request, exc: AppError) -> web.Page:
    """The service's refusal as a page in plain words (this tab's, then the shared ones)."""
    return web.refusal(request, exc, REFUSALS, back=TAB)


async def _calling(request: Request, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except AppError as exc:
        raise _refused(request, exc) from exc


async def _form(request: Request, me: web.Me) -> dict[str, str]:
    """The posted form, its CSRF token checked (refused: 403, back to this tab)."""
    return await _calling(request, lambda: web.checked_form(request, me))


def _client(request: Request) -> Client:
    """The signed-in client, for a change: refused (403) when banned."""
    try:
        client: Client = web.changing_client(request)
    except AppError as exc:
        raise _refused(request, exc) from exc
    return client


async def _own(request: Request, db: Session, card_id: str) -> tuple[IssuerAdapter, Card]:
    """For a change: the issuer and one of the signed-in client's own cards (403 when banned,
    404 for another's)."""
    adapter = _issuer(request)
    client = _client(request)
    card = await _calling(request, lambda: cards.of_client(db, client, web.parse_id(card_id)))
    return adapter, card


def _amount(text: str) -> str:
    """A typed amount as the API's parser reads it: `1 000,50` → `1000.50`."""
    return text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")


def _parse_issue(values: dict[str, str]) -> tuple[CardIn | None, dict[str, str]]:
    data = {
        "currency": values["currency"],
        "monthly_limit": _amount(values["monthly_limit"]),
        "label": values["label"] or None,
    }
    try:
        return CardIn.model_validate(data), {}
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        return None, {f: FORM_ERRORS[f] for f in fields if f in FORM_ERRORS}


def _issue_values(source: Any) -> dict[str, str]:
    return {
        name: str(source.get(name, "")).strip()
        for name in ("currency", "monthly_limit", "label", "card_id")
    }


async def _tab(
    request: Request,
    db: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The tab: the form values and errors of a form sent back (issue, or `limit-<card id>`)."""
    client = web.caller_of(request).client
    await client_state.ensure_plan(db, client)
    shown = [CardView.of(c) for c in await cards.list_for(db, client.id)]  # newest first
    done = request.query_params.get("done", "")
    context = {
        "tab": "card",
        "title": i18n.N_("Cards"),
        "banner": await web.banner_for(db, "card"),
        "open_cards": [c for c in shown if c.status != CARD_CLOSED],
        "closed_cards": [c for c in shown if c.status == CARD_CLOSED],
        "states": STATES,
        "summary": await subscriptions.summary(db, client),
        "cards_on": getattr(request.app.state, "issuer", None) is not None,
        "done": DONE.get(done),
        "values": {"currency": EUR, "monthly_limit": "", "label": "", **(values or {})},
        "errors": errors or {},
        "key": web.idempotency_key(),
    }
    return web.render(request, "card/card.html", context, status_code=status_code)


# The tab


@router.get("/card", response_class=HTMLResponse)
async def card_tab(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    return await _tab(request, db)


# Issuing: the form (on the tab) -> the preview (confirm.html) -> POST /app/cards


def _fee_rows(quote: cards.IssueQuote) -> tuple[list[tuple[str, str]], str]:
    """The fee's rows and the note under them."""
    summary = quote.summary
    slots = i18n._(
        "%(left)s of %(included)s", left=summary.slots_left, included=summary.cards_included
    )
    open_now = i18n._(
        "%(open)s of at most %(max)s", open=summary.active_cards, max=summary.max_active
    )
    if quote.fee_currency is None:
        fee = i18n._("Free: included in your plan")
        note = i18n.N_("This card uses one of the free cards of your plan.")
    else:
        fee = i18n._(
            "%(amount)s from your %(currency)s wallet",
            amount=web.money(quote.fee_amount, quote.fee_currency),
            currency=quote.fee_currency,
        )
        note = (
            i18n.N_("The fee is taken once, when the card is made.")
            if quote.fee_currency == EUR
            else i18n.N_(
                "Your EUR balance is short, so the fee is taken from your USD wallet at our "
                "exchange rate, once, when the card is made."
            )
        )
    rows = [
        (i18n.N_("Issue fee"), fee),
        (i18n.N_("Free cards left on your plan"), slots),
        (i18n.N_("Open cards"), open_now),
    ]
    return rows, note


@router.get("/card/issue", response_class=HTMLResponse)
async def issue_preview(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """What the new card costs, before confirming; the issuing checks' refusals up front."""
    _issuer(request)
    client = _client(request)
    values = _issue_values(request.query_params)
    body, errors = _parse_issue(values)
    if body is None:
        return await _tab(request, db, values=values, errors=errors, status_code=400)
    key = _key(request, values["card_id"])
    quote = await _calling(request, lambda: cards.quote(db, client))
    fee_rows, note = _fee_rows(quote)
    rows = [
        (i18n.N_("Currency"), body.currency),
        (i18n.N_("Monthly limit"), web.money(body.monthly_limit, body.currency)),
    ]
    if body.label:
        rows.append((i18n.N_("Name"), body.label))
    context = {
        "tab": "card",
        "title": i18n.N_("Issue a card"),
        "heading": i18n.N_("Issue this card?"),
        "rows": rows + fee_rows,
        "note": note,
        "action": f"{PREFIX}/cards",
        "fields": {
            "currency": body.currency,
            "monthly_limit": format_cents(body.monthly_limit),
            "label": body.label or "",
            "card_id": str(key),  # the form's key: posted twice, one card
        },
        "button": i18n.N_("Issue the card"),
        "cancel": TAB,
    }
    return web.render(request, "confirm.html", context)


def _key(request: Request, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise web.Page(web.error_page(request, 400, FORM_EXPIRED, back=TAB)) from None


@router.post("/cards")
async def issue_card(request: Request, me: SignedIn, db: Session) -> Response:
    form = await _form(request, me)
    adapter = _issuer(request)
    client = _client(request)
    values = _issue_values(form)
    body, errors = _parse_issue(values)
    if body is None:
        return await _tab(request, db, values=values, errors=errors, status_code=400)
    key = _key(request, values["card_id"])
    card = await _calling(
        request,
        lambda: cards.issue(
            db, adapter, client, body.currency, body.monthly_limit, body.label, card_id=key
        ),
    )
    return web.redirect(f"{TAB}?done=issue#card-{card.id}")


# Freeze, unfreeze, close (confirmed first), the monthly limit


def _lifecycle_route(action: str) -> None:
    async def act(card_id: str, request: Request, me: SignedIn, db: Session) -> Response:
        await _form(request, me)
        adapter, card = await _own(request, db, card_id)
        await _calling(request, lambda: cards.move(action, db, adapter, card))
        return web.redirect(f"{TAB}?done={action}#card-{card.id}")

    router.post(f"/card/{{card_id}}/{action}", name=f"card_{action}")(act)


for _action in cards.LIFECYCLE:
    _lifecycle_route(_action)


# The questions before closing (for good) and before showing the card's details


async def _open_card(request: Request, db: Session, card_id: str) -> CardView:
    """One of the client's open cards, for a confirmation page."""
    _, card = await _own(request, db, card_id)
    if card.status == CARD_CLOSED:
        raise _refused(request, InvalidCardState())
    return CardView.of(card)


def _confirm_route(step: str, heading: str, note: str, button: str) -> None:
    """GET /card/{card_id}/<step>: the question before the POST to the same path."""

    async def ask(card_id: str, request: Request, me: SignedIn, db: Session) -> HTMLResponse:
        card = await _open_card(request, db, card_id)
        context = {
            "tab": "card",
            "title": i18n.N_("Cards"),
            "heading": heading,
            "rows": [(i18n.N_("Card"), card.name + (f" · {card.label}" if card.label else ""))],
            "note": note,
            "action": f"{TAB}/{card.id}/{step}",
            "fields": {},
            "button": button,
            "cancel": TAB,
        }
        return web.render(request, "confirm.html", context)

    router.get(f"/card/{{card_id}}/{step}", response_class=HTMLResponse, name=f"ask_{step}")(ask)


_confirm_route("close", i18n.N_("Close this card for good?"), CLOSE_NOTE, i18n.N_("Close the card"))
_confirm_route(
    "reveal",
    i18n.N_("Show the number, expiry and CVV?"),
    REVEAL_NOTE,
    i18n.N_("Show the details"),
)


@router.post("/card/{card_id}/limit")
async def change_limit(card_id: str, request: Request, me: SignedIn, db: Session) -> Response:
    form = await _form(request, me)
    adapter, card = await _own(request, db, card_id)
    typed = form.get("monthly_limit", "").strip()
    try:
        body = CardLimitIn.model_validate({"monthly_limit": _amount(typed)})
    except ValidationError:
        field = f"limit-{card.id}"
        return await _tab(
            request, db, values={field: typed}, errors={field: LIMIT_ERROR}, status_code=400
        )
    await _calling(request, lambda: cards.set_limit(db, adapter, card, body.monthly_limit))
    return web.redirect(f"{TAB}?done=limit#card-{card.id}")


# The card's details


@router.post("/card/{card_id}/reveal", response_class=HTMLResponse)
async def reveal(card_id: str, request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """The details from the issuer, now: in this answer only (no-store), never logged."""
    await _form(request, me)
    adapter, card = await _own(request, db, card_id)
    details = await _calling(request, lambda: cards.details(adapter, card))
    pan = details.pan
    context = {
        "tab": "card",
        "title": i18n.N_("Card details"),
        "card": CardView.of(card),
        "pan_groups": [pan[i : i + 4] for i in range(0, len(pan), 4)],
        "pan": pan,
        "expiry": details.expiry,
        "cvv": details.cvv,
        "seconds": REVEAL_SECONDS,
    }
    return web.render(request, "card/reveal.html", context, headers={"Cache-Control": "no-store"})
