"""Support desk pages: lookup by id, the global card transactions list, web sign-ups.

The same services and role checks as `/api/v1/admin/lookup`, `/card-transactions` and
`/web-users` (any signed-in operator); every web-user action goes through
`web_users.service`, audited with the operator as actor; destructive ones are confirmed first.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from paywarden.card_transaction_review import service as card_txs
from paywarden.card_transaction_review.filters import TxFilter
from paywarden.card_transaction_review.schemas import TxOut, TxQuery
from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.kit.errors import InvalidQuery, NotFound
from paywarden.kit.pagination import Page as ResultPage
from paywarden.kit.pagination import PageQuery
from paywarden.kit.time import utcnow
from paywarden.kit.web import Session
from paywarden.lookup import service as lookup
from paywarden.models.cards import DECLINE_REASONS, TX_STATUSES
from paywarden.web_users import csv_export
from paywarden.web_users import service as web_users
from paywarden.web_users.filters import WebUserFilter
from paywarden.web_users.schemas import WebUserOut, WebUserPatchIn

router = web.console_router()

# The APIs behind these pages are open to any signed-in operator: so are the pages.
NAV = [
    web.NavEntry("Cards", "lookup", N_("Lookup"), f"{web.PREFIX}/lookup", 5),
    web.NavEntry(
        "Cards", "card_transactions", N_("Card transactions"), f"{web.PREFIX}/card-transactions", 6
    ),
    web.NavEntry("Cards", "web_users", N_("Web users"), f"{web.PREFIX}/web-users", 7),
]

API = "/api/v1/admin/"


# Lookup

KIND_LABELS = {
    "client": N_("Client"),
    "web_user": N_("Web user"),
    "order": N_("Order"),
    "ledger_transaction": N_("Ledger transaction"),
    "card": N_("Card"),
    "card_transaction": N_("Card transaction"),
    "topup": N_("Top-up"),
}
WORKS = [
    N_("a client's id or external user id (tg_…, web_…)"),
    N_("a web user's id or e-mail"),
    N_("an order's id, deposit address or the tx hash that paid it"),
    N_("a ledger transaction's id or idempotency key"),
    N_("a card's id or the issuer's card id"),
    N_("a card transaction's id or the issuer's transaction id"),
    N_("a top-up's id"),
]


def _links(kind: str, found_id: uuid.UUID, url: str | None) -> list[tuple[str, str]]:
    """Where a match opens in the console."""
    if kind == "client":
        return [
            (N_("Open client"), f"{web.PREFIX}/clients/{found_id}"),
            (N_("Card transactions"), f"{web.PREFIX}/card-transactions?client_id={found_id}"),
        ]
    if kind == "web_user":
        return [(N_("Open in web users"), f"{web.PREFIX}/web-users?" + urlencode({"q": found_id}))]
    if kind == "order":
        return [(N_("Open order"), f"{web.PREFIX}/orders/{found_id}")]
    if kind == "ledger_transaction":
        # The API's url is the client's ledger: `/api/v1/admin/clients/<id>/ledger`.
        parts = (url or "").removeprefix(API).split("/")
        if len(parts) >= 2 and parts[0] == "clients":
            return [(N_("Open client"), f"{web.PREFIX}/clients/{parts[1]}")]
        return []
    if kind == "card":  # the API's url is the client's cards: `…/clients/<id>/cards`
        parts = (url or "").removeprefix(API).split("/")
        links = [(N_("Card transactions"), f"{web.PREFIX}/card-transactions?card_id={found_id}")]
        if len(parts) >= 2 and parts[0] == "clients":
            links.append((N_("Open client"), f"{web.PREFIX}/clients/{parts[1]}"))
        return links
    if url and url.startswith(API):  # card transactions, top-ups: the console's twin path
        return [(N_("Open"), web.PREFIX + "/" + url.removeprefix(API))]
    return []


@router.get("/lookup")
async def lookup_page(request: Request, db: Session, me: SignedIn) -> Response:
    term = request.query_params.get("id", "").strip()[:320]
    matches: list[dict[str, Any]] = []
    if term:
        for f in await lookup.find(db, term):
            matches.append(
                {
                    "kind": KIND_LABELS.get(f.type, f.type),
                    "type": f.type,
                    "id": str(f.id),
                    "label": f.label,
                    "links": _links(f.type, f.id, f.url),
                }
            )
    return web.render(
        request,
        "support_desk/lookup.html",
        {
            "title": N_("Lookup"),
            "nav": "lookup",
            "term": term,
            "matches": matches,
            "works": WORKS,
        },
    )


# Card transactions

TX_PER_PAGE = 25
TX_KEYS = ("client_id", "card_id", "status", "decline_reason", "merchant", "mcc", "country")
TX_ERRORS = {
    "client_id": N_("“Client id” must be a client's id (a UUID)."),
    "card_id": N_("“Card id” must be a card's id (a UUID)."),
    "status": N_("Unknown status."),
    "decline_reason": N_("Unknown decline reason."),
    "merchant": N_("“Merchant” must be at most 255 characters."),
    "mcc": N_("“MCC” must be 4 digits, such as 5411."),
    "country": N_("“Country” must be 2 letters, such as DE."),
    "from": N_("“From” must be a date (2026-03-10) or a date and time."),
    "to": N_("“To” must be a date (2026-03-10) or a date and time."),
}


def _tx_query(values: dict[str, str], page: int) -> tuple[TxQuery, list[str]]:
    """The API's query from the form; a bad field is left out and said in plain words."""
    data: dict[str, Any] = {k: v for k, v in values.items() if v}
    errors: list[str] = []
    while True:
        try:
            return TxQuery.model_validate({**data, "page": page, "limit": TX_PER_PAGE}), errors
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            bad = {"from" if b == "from_" else b for b in bad}
            known = [k for k in (*TX_KEYS, "from", "to") if k in bad and k in data]
            if not known:  # nothing of the form's own: the page number, say
                page = 1
                if "page" not in bad:
                    data = {}
                continue
            for key in known:
                errors.append(TX_ERRORS[key])
                del data[key]


@router.get("/card-transactions")
async def card_transactions(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(request, f"{web.PREFIX}/card-transactions", TX_KEYS, TX_PER_PAGE)
    # `from`/`to` take what the API takes (dates or date-times), not only the list's days.
    for key in ("from", "to"):
        lq.values[key] = request.query_params.get(key, "").strip()
    q, errors = _tx_query(lq.values, lq.paging.page)
    lq.errors.extend(errors)
    # The console's query is the API's (TxQuery): the filter takes its fields of the same names.
    f = TxFilter(**{field.name: getattr(q, field.name) for field in fields(TxFilter)})
    try:
        page = await card_txs.transactions(db, f, q)
    except InvalidQuery:
        lq.errors.append(N_("“From” must not be after “To”."))
        page = ResultPage([], 1, TX_PER_PAGE, 0)
    return web.list_page(
        request,
        "support_desk/card_transactions.html",
        lq,
        page,
        {
            "title": N_("Card transactions"),
            "nav": "card_transactions",
            "rows": [TxOut.of(r) for r in page.items],
            "statuses": TX_STATUSES,
            "reasons": DECLINE_REASONS,
        },
    )


# Web users

WEB_PER_PAGE = 25
WEB_STATUSES = ("pending", "active", "disabled")
WEB_NOTICES = {
    "linked": N_("The login is linked to the client."),
    "unlinked": N_("The login is unlinked from its client."),
    "disabled": N_("The login is disabled and signed out."),
    "enabled": N_("The login is active again."),
    "deleted": N_("The login is deleted; its client and ledger stay."),
}


def _web_filter(q: str, status: str) -> WebUserFilter:
    return WebUserFilter(search=q[:320] or None, status=status if status in WEB_STATUSES else None)


@router.get("/web-users")
async def web_user_list(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(request, f"{web.PREFIX}/web-users", ("q", "status"), WEB_PER_PAGE)
    if lq.values["status"] and lq.values["status"] not in WEB_STATUSES:
        lq.errors.append(N_("Unknown status."))
    f = _web_filter(lq.values["q"], lq.values["status"])
    page = await web_users.search(db, f, lq.paging)
    kept = {k: v for k, v in lq.values.items() if v}
    return web.list_page(
        request,
        "support_desk/web_users.html",
        lq,
        page,
        {
            "title": N_("Web users"),
            "nav": "web_users",
            "users": [WebUserOut.of(u) for u in page.items],
            "statuses": WEB_STATUSES,
            "csv_url": f"{web.PREFIX}/web-users.csv" + ("?" + urlencode(kept) if kept else ""),
            "notice": WEB_NOTICES.get(request.query_params.get("done", "")),
        },
    )


@router.get("/web-users.csv")
async def web_user_csv(request: Request, me: SignedIn) -> Response:
    """Every matching row, the API's `?format=csv` export (cells defused for spreadsheets)."""
    q = request.query_params
    f = _web_filter(q.get("q", "").strip(), q.get("status", "").strip())
    name = f"web-users-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        csv_export.rows(request.app.state.db, f),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def _web_user(db: Session, web_user_id: str) -> WebUserOut:
    """One login, found the way the list finds it (by its id)."""
    wid = web.parse_id(web_user_id)
    page = await web_users.search(db, WebUserFilter(search=str(wid)), PageQuery(page=1, limit=10))
    for u in page.items:
        if u.id == wid:
            return WebUserOut.of(u)
    raise NotFound(N_("This web user does not exist (any more)."))


def _back(user: WebUserOut) -> str:
    return f"{web.PREFIX}/web-users?" + urlencode({"q": user.email})


def _confirm(request: Request, **context: Any) -> Response:
    return web.confirm_page(
        request, "web_users", stylesheet="support_desk.css", panel_class="sd-wrap", **context
    )


def _link_form(
    request: Request, user: WebUserOut, value: str, error: str | None, status_code: int = 200
) -> Response:
    return web.render(
        request,
        "support_desk/web_user_link.html",
        {
            "title": N_("Link a login to a client"),
            "nav": "web_users",
            "user": user,
            "value": value,
            "error": error,
            "back": _back(user),
        },
        status_code=status_code,
    )


@router.get("/web-users/{web_user_id}/link")
async def web_user_link_form(
    web_user_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    user = await _web_user(db, web_user_id)
    return _link_form(request, user, user.external_user_id or "", None)


@router.post("/web-users/{web_user_id}/link")
async def web_user_link(web_user_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    user = await _web_user(db, web_user_id)
    value = form.get("external_user_id", "").strip()
    try:
        body = WebUserPatchIn.model_validate({"external_user_id": value})
    except ValidationError as exc:
        error = N_(
            "Enter the bot client's id: tg_ followed by its Telegram user id, e.g. tg_12345."
        )
        raise web.Page(_link_form(request, user, value, error, 400)) from exc
    try:
        await web_users.update(db, user.id, body.changes(), web.actor_of(request, me))
    except NotFound as exc:
        error = N_("No bot client has this id. The user must start the bot first.")
        raise web.Page(_link_form(request, user, value, error, 404)) from exc
    return web.redirect(_back(user) + "&done=linked")


def _action_confirm(request: Request, user: WebUserOut, action: str) -> Response:
    texts = {
        "unlink": (
            N_("Unlink this login?"),
            N_("Unlink %(email)s from %(client)s?"),
            N_("The login stays; the user no longer reaches that client's wallet and cards."),
            N_("Unlink"),
        ),
        "disable": (
            N_("Disable this login?"),
            N_("Disable %(email)s?"),
            N_("The user is signed out at once and cannot sign in. You can enable it again."),
            N_("Disable"),
        ),
        "delete": (
            N_("Delete this login?"),
            N_("Delete %(email)s?"),
            N_("The login and its sessions go for good; its client and ledger stay."),
            N_("Delete"),
        ),
    }
    title, question, detail, button = texts[action]
    return _confirm(
        request,
        title=title,
        question=question,
        params={"email": user.email, "client": user.external_user_id or ""},
        detail=detail,
        action=f"{web.PREFIX}/web-users/{user.id}/{action}",
        button=button,
        cancel=_back(user),
        user=user,
    )


def _web_user_action(action: str, change: dict[str, Any] | None, done: str, confirm: bool) -> None:
    """Register the POST of an action on a login (`change` to its row, None: delete it) and,
    when it is to be confirmed, the GET of its confirm page, at /web-users/{id}/{action}."""

    async def ask(web_user_id: str, request: Request, db: Session, me: SignedIn) -> Response:
        return _action_confirm(request, await _web_user(db, web_user_id), action)

    async def act(web_user_id: str, request: Request, db: Session, me: SignedIn) -> Response:
        await web.checked_form(request, me)
        user = await _web_user(db, web_user_id)
        actor = web.actor_of(request, me)
        if change is None:
            await web_users.delete(db, user.id, actor)
            return web.redirect(f"{web.PREFIX}/web-users?done={done}")
        await web_users.update(db, user.id, change, actor)
        return web.redirect(_back(user) + f"&done={done}")

    path = f"/web-users/{{web_user_id}}/{action}"
    if confirm:
        router.get(path, name=f"web_user_{action}_confirm")(ask)
    router.post(path, name=f"web_user_{action}")(act)


_web_user_action("unlink", {"external_user_id": None}, "unlinked", confirm=True)
_web_user_action("disable", {"status": "disabled"}, "disabled", confirm=True)
_web_user_action("enable", {"status": "active"}, "enabled", confirm=False)
_web_user_action("delete", None, "deleted", confirm=True)
