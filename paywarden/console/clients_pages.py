"""Client admin: the list of clients (search, filters, pages) and the client page with every
block of the seed's "Client admin", in its order, and its actions.

Every action posts to `/admin/clients/{id}/…` with the CSRF token and goes through the services
the admin API uses (paywarden/client_admin/service.py, paywarden/cards/service.py), audited
with the operator as actor, with the API's role checks: any operator does support work (plan,
access, notes, cards); manual top-ups and demo balances move money, so only a super_admin makes
them. Destructive actions (ban, closing a card) are confirmed on a page of their own first.
A refusal (the issuer, missing funds, a banned client…) rolls back and comes back as a plain
sentence on the client page. The page ends with what the Telegram bot told the client (its
notifications, read-only).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from paywarden.audit.context import Actor
from paywarden.card_transaction_review import service as card_transactions
from paywarden.card_transaction_review.filters import TxFilter
from paywarden.card_transaction_review.schemas import TxOut
from paywarden.cards import service as cards
from paywarden.cards.errors import CardNotFound, CardsOff
from paywarden.cards.schemas import CardIn, CardLimitIn, CardOut
from paywarden.client_admin import service
from paywarden.client_admin.filters import ClientFilter
from paywarden.client_admin.schemas import (
    AssignPlanIn,
    ClientDetail,
    ClientNotificationsOut,
    ClientPatchIn,
    ClientRow,
    DemoBalanceIn,
    LatestTopup,
    ManualTopupIn,
)
from paywarden.clients import service as clients
from paywarden.clients.errors import ClientNotFound
from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.errors import AppError
from paywarden.kit.pagination import PageQuery
from paywarden.kit.web import Session
from paywarden.models import Card
from paywarden.models.clients import ACTIVE, BANNED
from paywarden.operators import service as operators
from paywarden.operators.service import Principal
from paywarden.plans import service as plans
from paywarden.topups import service as topups

router = web.console_router()

NAV = [web.NavEntry("Cards", "clients", "Clients", f"{web.PREFIX}/clients", 1)]

CLIENTS_PER_PAGE = 25
LATEST = 10  # cards' top-ups and transactions shown on the client page
QUICK_TOPUPS = ("10.00", "50.00", "100.00", "500.00")
CURRENCIES = ("EUR", "USD")
MONEY_ROLES = ("super_admin",)

NOTICES = {
    "plan": N_("The tariff is saved. The client sees the plan and its pricing in the app."),
    "access": N_("Access and limits are saved."),
    "banned": N_("The client is banned: it can read its account but change nothing."),
    "unbanned": N_("The ban is lifted."),
    "notes": N_("The notes are saved."),
    "unchanged": N_("Nothing changed."),
    "issued": N_("The card is issued."),
    "frozen": N_("The card is frozen."),
    "unfrozen": N_("The card is active again."),
    "closed": N_("The card is closed."),
    "limit": N_("The card's monthly limit is changed."),
    "topup": N_("The wallet is topped up."),
    "balance": N_("The demo balance is set."),
}

# A refusal of a service, by its class, in plain words (anything else: GENERIC).
ERRORS = {
    "ClientBanned": N_("This client is banned: lift the ban first."),
    "CardsDisabled": N_("Card creation is off for this client (Access & limits)."),
    "SubscriptionInactive": N_(
        "The subscription is not active: the plan's monthly fee must be paid first "
        "(top up the wallet)."
    ),
    "CardLimitReached": N_("The client already has the maximum number of active cards."),
    "InsufficientFunds": N_("Not enough money in the EUR or USD wallet to pay the card issue fee."),
    "InvalidCardState": N_("A closed card cannot be changed."),
    "IssuerUnavailable": N_("The card issuer is unavailable just now. Try again later."),
    "IssuerFailed": N_("The card issuer refused the request."),
    "FxRateNotSet": N_("No EUR/USD rate is set yet: set it on the plans page first."),
    "PlanArchived": N_("An archived plan cannot be assigned."),
    "PlanNotFound": N_("That plan does not exist any more. Pick another one."),
    "BelowReserved": N_("The balance cannot be set below the wallet's reserved amount."),
    "DemoBalanceDisabled": N_("Demo balances cannot be set in production."),
    "IdempotencyKeyMismatch": N_("This form was already used for another top-up. Reload the page."),
    "SupportOwnerNotFound": N_("That operator does not exist any more. Pick another one."),
    "CardsOff": N_("Cards are off on this installation (ISSUER=none)."),
}
GENERIC = N_("The action could not be done. Reload the page and try again.")

# The bot's notifications block: what each kind tells, and each status as a badge.
NOTIFICATION_KINDS = {
    "code_3ds": N_("3-D Secure code"),
    "card_approved": N_("Payment approved"),
    "card_declined": N_("Payment declined"),
    "card_refund": N_("Refund"),
    "topup_credited": N_("Top-up credited"),
    "subscription_renewed": N_("Plan renewed"),
    "subscription_past_due": N_("Plan past due"),
    "low_balance": N_("Low balance"),
}
NOTIFICATION_STATUSES = {
    "pending": (N_("pending"), "warn"),
    "sending": (N_("sending"), "warn"),
    "sent": (N_("sent"), "ok"),
    "failed": (N_("failed"), "bad"),
    "blocked": (N_("blocked"), "bad"),
    "skipped": (N_("skipped"), ""),
}


def _url(client_id: uuid.UUID, **query: str) -> str:
    url = f"{web.PREFIX}/clients/{client_id}"
    return url + ("?" + urlencode(query) if query else "")


def _done(client_id: uuid.UUID, notice: str, anchor: str) -> Response:
    return web.redirect(_url(client_id, done=notice) + f"#{anchor}")


def _is_money_operator(me: Principal) -> bool:
    return me.operator.role in MONEY_ROLES


def _issuer(request: Request) -> IssuerAdapter | None:
    return getattr(request.app.state, "issuer", None)


def _needs_issuer(request: Request) -> IssuerAdapter:
    adapter = _issuer(request)
    if adapter is None:
        raise CardsOff()
    return adapter


Model = TypeVar("Model", bound=BaseModel)


async def _parse(
    request: Request,
    db: Session,
    me: Principal,
    cid: uuid.UUID,
    block: str,
    values: dict[str, str],
    model: type[Model],
    messages: Mapping[str, str],
    data: Mapping[str, Any] | None = None,
) -> Model:
    """A block's form (`values`, or `data` built from them) as `model`. Refused, the client page
    comes back (400) with what was typed and one sentence: that of the first field in `messages`
    that failed, else its "" entry, else the model's own first message."""
    try:
        return model.model_validate(values if data is None else data)
    except ValidationError as exc:
        failed = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        message = next((m for f, m in messages.items() if f in failed), messages.get(""))
        if message is None:
            message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise await _bad_form(request, db, me, cid, block, message, values) from exc


async def _act(
    client_id: uuid.UUID,
    anchor: str,
    call: Callable[[], Awaitable[Any]],
    notice: str,
    section: str,
) -> Response:
    """Run a service call, then back to the client page's `section` with its `notice`; a refusal
    rolls back and shows at `anchor`, in plain words. A missing client or card stays a 404."""
    try:
        await call()
    except (ClientNotFound, CardNotFound):
        raise
    except AppError as exc:
        key = type(exc).__name__ if type(exc).__name__ in ERRORS else "error"
        raise web.Page(web.redirect(_url(client_id, error=key) + f"#{anchor}")) from exc
    return _done(client_id, notice, section)


# The list


@router.get("/clients")
async def client_list(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(
        request, f"{web.PREFIX}/clients", ("q", "status", "plan", "banned"), CLIENTS_PER_PAGE
    )
    plan_id = lq.uuid_of("plan", N_("Unknown plan."))
    status = lq.values["status"] if lq.values["status"] in (ACTIVE, BANNED) else None
    if lq.values["status"] and status is None:
        lq.errors.append(N_("Unknown status."))
    banned = lq.values["banned"]
    if banned in ("yes", "no"):
        wanted = BANNED if banned == "yes" else ACTIVE
        if status is not None and status != wanted:
            lq.errors.append(N_("“Banned” and “Status” ask for different clients."))
        status = wanted
    elif banned:
        lq.errors.append(N_("Unknown choice for “Banned”."))
    search = lq.values["q"][:320] or None
    page = await service.search(
        db, ClientFilter(search=search, status=status, plan_id=plan_id), lq.paging
    )
    return web.list_page(
        request,
        "clients/list.html",
        lq,
        page,
        {
            "title": N_("Clients"),
            "nav": "clients",
            "clients": [ClientRow.of(i.client, i.plan_name, i.email) for i in page.items],
            "plans": list(await plans.list_all(db)),
        },
    )


# The client page


async def _client_page(
    request: Request,
    db: Session,
    me: Principal,
    client_id: uuid.UUID,
    *,
    form_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    tz = request.app.state.settings.tz
    detail = ClientDetail.of(await service.detail(db, client_id, tz))
    client_cards = [CardOut.of(c) for c in await cards.list_for(db, client_id)]
    latest_topups = await topups.list_for_client(db, client_id, PageQuery(page=1, limit=LATEST))
    latest_txs = await card_transactions.transactions(
        db, TxFilter(client_id=client_id), PageQuery(page=1, limit=LATEST)
    )
    bot = ClientNotificationsOut.of(await service.bot_notifications(db, client_id))
    query = request.query_params
    error_key = query.get("error", "")
    return web.render(
        request,
        "clients/detail.html",
        {
            "title": detail.identity.display_name or detail.identity.external_user_id,
            "nav": "clients",
            "d": detail,
            "cards": client_cards,
            "topups": [LatestTopup.of(t) for t in latest_topups.items],
            "topups_total": latest_topups.total,
            "transactions": [TxOut.of(r) for r in latest_txs.items],
            "transactions_total": latest_txs.total,
            "bot": bot,
            "notification_kinds": NOTIFICATION_KINDS,
            "notification_statuses": NOTIFICATION_STATUSES,
            "plans": [p for p in await plans.list_all(db) if not p.archived],
            "operators": list(await operators.list_operators(db)),
            "cards_on": _issuer(request) is not None,
            "can_move_money": _is_money_operator(me),
            "demo": not request.app.state.settings.is_production,
            "currencies": CURRENCIES,
            "quick_topups": QUICK_TOPUPS,
            "topup_key": str(uuid.uuid4()),
            "notice": NOTICES.get(query.get("done", "")),
            "error": (ERRORS.get(error_key) or GENERIC) if error_key else None,
            "form_errors": form_errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


async def _bad_form(
    request: Request,
    db: Session,
    me: Principal,
    client_id: uuid.UUID,
    block: str,
    message: str,
    values: dict[str, str],
) -> web.Page:
    """The client page again (400) with the form's error and what was typed; nothing saved."""
    response = await _client_page(
        request,
        db,
        me,
        client_id,
        form_errors={block: message},
        values={f"{block}.{k}": v for k, v in values.items()},
        status_code=400,
    )
    return web.Page(response)


@router.get("/clients/{client_id}")
async def client_page(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    return await _client_page(request, db, me, web.parse_id(client_id))


# Tariff


@router.post("/clients/{client_id}/plan")
async def client_plan(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    values = {"plan_id": form.get("plan_id", "").strip(), "notes": form.get("notes", "")}
    messages = {} if values["plan_id"] else {"plan_id": N_("Pick a plan.")}
    body = await _parse(request, db, me, cid, "plan", values, AssignPlanIn, messages)
    actor = web.actor_of(request, me)
    return await _act(
        cid,
        "tariff",
        lambda: service.assign_plan(db, cid, body.plan_id, body.notes, actor),
        "plan",
        "tariff",
    )


# Access & limits, ban


async def _patch(
    request: Request,
    db: Session,
    me: Principal,
    cid: uuid.UUID,
    body: ClientPatchIn,
    block: str,
) -> Response:
    """Save what the block's form changed (its notice and anchor are the block's name); a form
    sent back as it was is "Nothing changed" and writes no audit entry."""
    current = await clients.get(db, cid)
    changes = {
        field: getattr(body, field)
        for field in sorted(body.model_fields_set)
        if getattr(body, field) != getattr(current, field)
    }
    if not changes:
        return _done(cid, "unchanged", block)
    actor = web.actor_of(request, me)
    return await _act(cid, block, lambda: service.update(db, cid, changes, actor), block, block)


@router.post("/clients/{client_id}/access")
async def client_access(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    values = {
        "can_create_cards": "on" if form.get("can_create_cards") else "",
        "max_active_cards": form.get("max_active_cards", "").strip(),
    }
    data = {
        "can_create_cards": bool(values["can_create_cards"]),
        "max_active_cards": values["max_active_cards"] or None,
    }
    message = N_("Max active cards must be a whole number from 0 to 10000, or empty.")
    body = await _parse(request, db, me, cid, "access", values, ClientPatchIn, {"": message}, data)
    return await _patch(request, db, me, cid, body, "access")


@router.get("/clients/{client_id}/ban")
async def client_ban_confirm(
    client_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    cid = web.parse_id(client_id)
    d = ClientDetail.of(await service.detail(db, cid, request.app.state.settings.tz))
    name = d.identity.display_name or d.identity.external_user_id
    return web.confirm_page(
        request,
        "clients",
        title=N_("Ban this client?"),
        question=N_("Ban %(name)s?"),
        params={"name": name},
        detail=N_(
            "A banned client can read its account but change nothing: no new cards, "
            "no unfreezing, no higher limits. Its cards are not frozen by the ban. "
            "You can lift the ban later."
        ),
        action=f"{web.PREFIX}/clients/{cid}/ban",
        button=N_("Ban the client"),
        cancel=_url(cid) + "#access",
    )


async def _set_banned(
    request: Request, db: Session, me: Principal, client_id: str, banned: bool
) -> Response:
    await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    actor = web.actor_of(request, me)
    return await _act(
        cid,
        "access",
        lambda: service.update(db, cid, {"banned": banned}, actor),
        "banned" if banned else "unbanned",
        "access",
    )


@router.post("/clients/{client_id}/ban")
async def client_ban(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    return await _set_banned(request, db, me, client_id, True)


@router.post("/clients/{client_id}/unban")
async def client_unban(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    return await _set_banned(request, db, me, client_id, False)


# Notes / Ops


@router.post("/clients/{client_id}/notes")
async def client_notes(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    values = web.form_values(form, ("support_owner_id",), raw=("internal_note",))
    data = {
        "internal_note": values["internal_note"].strip() or None,
        "support_owner_id": values["support_owner_id"] or None,
    }
    message = N_("The note is too long (at most 4000 characters), or the owner is unknown.")
    body = await _parse(request, db, me, cid, "notes", values, ClientPatchIn, {"": message}, data)
    return await _patch(request, db, me, cid, body, "notes")


# Money: manual top-ups and demo balances (super_admin, as the API)


@router.post("/clients/{client_id}/topup")
async def client_topup(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    values = web.form_values(form, ("amount", "note"), raw=("currency",))
    key = form.get("key", "").strip()[: service.MAX_IDEMPOTENCY_KEY] or None
    messages = {
        "note": N_("Write a note: why the wallet is topped up by hand."),
        "currency": N_("Pick the wallet: EUR or USD."),
        "": N_("The amount must be above 0, such as 25 or 25.50 (at most 2 decimals)."),
    }
    if values["note"]:  # a note too long gets the amount's sentence, as it always has
        del messages["note"]
    body = await _parse(request, db, me, cid, "topup", values, ManualTopupIn, messages)
    actor = web.actor_of(request, me)
    return await _act(
        cid,
        "topup",
        lambda: service.manual_topup(
            db, cid, body.currency, body.amount, body.note, actor, idempotency_key=key
        ),
        "topup",
        "balances",
    )


@router.post("/clients/{client_id}/balance")
async def client_balance(client_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    values = web.form_values(form, ("amount", "note"), raw=("currency",))
    values["note"] = values["note"] or "demo"
    message = N_("The balance must be 0 or more, such as 100 or 100.50 (at most 2 decimals).")
    body = await _parse(request, db, me, cid, "balance", values, DemoBalanceIn, {"": message})
    actor = web.actor_of(request, me)
    production = request.app.state.settings.is_production
    return await _act(
        cid,
        "demo",
        lambda: service.set_demo_balance(
            db, cid, body.currency, body.amount, body.note, actor, is_production=production
        ),
        "balance",
        "balances",
    )


# Cards


@router.post("/clients/{client_id}/cards")
async def client_issue_card(
    client_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    form = await web.checked_form(request, me)
    cid = web.parse_id(client_id)
    adapter = _needs_issuer(request)
    values = web.form_values(form, ("monthly_limit", "label"), raw=("currency",))
    messages = {
        "currency": N_("Pick the card's currency: EUR or USD."),
        "label": N_("The label is at most 64 characters."),
        "": N_("The monthly limit must be above 0 and at most 100000, such as 500 or 500.00."),
    }
    data = {**values, "label": values["label"] or None}
    body = await _parse(request, db, me, cid, "issue", values, CardIn, messages, data)
    actor = web.actor_of(request, me)
    client = await clients.get(db, cid)

    async def issue() -> None:
        await cards.issue(db, adapter, client, body.currency, body.monthly_limit, body.label, actor)

    return await _act(cid, "issue", issue, "issued", "cards")


async def _card_of(db: Session, client_id: uuid.UUID, card_id: str) -> Card:
    client = await clients.get(db, client_id)
    return await cards.of_client(db, client, web.parse_id(card_id))


CardCall = Callable[[Session, IssuerAdapter, Card, Actor], Awaitable[Any]]


async def _card_post(
    request: Request, db: Session, me: Principal, ids: tuple[str, str]
) -> tuple[dict[str, str], uuid.UUID, IssuerAdapter, Card, Actor]:
    """A post about one of the client's cards (`ids`: the client's and the card's): its form once
    the CSRF token is checked, the client's id, the issuer, the card, the operator as actor."""
    form = await web.checked_form(request, me)
    cid = web.parse_id(ids[0])
    adapter = _needs_issuer(request)
    card = await _card_of(db, cid, ids[1])
    return form, cid, adapter, card, web.actor_of(request, me)


def _card_step(step: str, call: CardCall, done: str) -> None:
    """Register POST /clients/{id}/cards/{card_id}/{step}: freeze, unfreeze or close one of the
    client's cards through the issuer, as the API does, back on the cards block with `done`."""

    async def act(
        client_id: str, card_id: str, request: Request, db: Session, me: SignedIn
    ) -> Response:
        _, cid, adapter, card, actor = await _card_post(request, db, me, (client_id, card_id))
        return await _act(cid, "cards", lambda: call(db, adapter, card, actor), done, "cards")

    router.post(f"/clients/{{client_id}}/cards/{{card_id}}/{step}", name=f"card_{step}")(act)


_card_step("freeze", cards.freeze, "frozen")
_card_step("unfreeze", cards.unfreeze, "unfrozen")
_card_step("close", cards.close, "closed")  # confirmed first: card_close_confirm


@router.get("/clients/{client_id}/cards/{card_id}/close")
async def card_close_confirm(
    client_id: str, card_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    cid = web.parse_id(client_id)
    _needs_issuer(request)
    card = CardOut.of(await _card_of(db, cid, card_id))
    return web.confirm_page(
        request,
        "clients",
        title=N_("Close this card?"),
        question=N_("Close the card %(name)s?"),
        params={"name": f"•••• {card.last4 or '—'} ({card.currency})"},
        detail=N_(
            "Closing is final: the card stops working at once and cannot be reopened. "
            "To stop it for a while, freeze it instead."
        ),
        action=f"{web.PREFIX}/clients/{cid}/cards/{card.id}/close",
        button=N_("Close the card"),
        cancel=_url(cid) + "#cards",
    )


@router.post("/clients/{client_id}/cards/{card_id}/limit")
async def card_limit(
    client_id: str, card_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    form, cid, adapter, card, actor = await _card_post(request, db, me, (client_id, card_id))
    values = {"monthly_limit": form.get("monthly_limit", "").strip(), "card": str(card.id)}
    message = N_("The monthly limit must be above 0 and at most 100000, such as 500 or 500.00.")
    data = {"monthly_limit": values["monthly_limit"]}
    body = await _parse(request, db, me, cid, "limit", values, CardLimitIn, {"": message}, data)
    return await _act(
        cid,
        "cards",
        lambda: cards.set_limit(db, adapter, card, body.monthly_limit, actor),
        "limit",
        "cards",
    )
