"""The profile tab (`/app/profile`): who is signed in, the plan and its terms, changing plan
(the home catalog; the fee and what changes shown before paying), support, the app's language,
the low-balance alert (the bot's message when a wallet falls below an amount), signing out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from paywarden.client_state import service as client_state
from paywarden.clientapp import web
from paywarden.clientapp.web import SignedIn
from paywarden.clients import service as clients
from paywarden.console import i18n
from paywarden.kit.errors import AppError, ValidationFailed
from paywarden.kit.money import CENT_DECIMALS, format_units, parse_amount
from paywarden.kit.web import Session
from paywarden.models import Plan
from paywarden.plans import service as plans
from paywarden.subscriptions import service as subscriptions
from paywarden.support import service as support

router = web.app_router()

PROFILE = f"{web.PREFIX}/profile"

STATUS_WORDS = {
    "active": i18n.N_("Active"),
    "pending": i18n.N_("Not paid yet"),
    "past_due": i18n.N_("Unpaid"),
    "none": i18n.N_("No plan"),
}
UNPAID_HINT = i18n.N_(
    "Top up your wallet: the plan's monthly fee is taken as soon as the money arrives."
)
# Refusals of a plan change, in plain words (the rest: web.PLAIN_ERRORS).
PLAN_REFUSALS = {
    "PLAN_NOT_SELECTABLE": i18n.N_(
        "This plan cannot be chosen in the app. Pick one of the plans on your profile page, "
        "or write to support."
    ),
    "NOT_FOUND": i18n.N_(
        "We could not find this plan. Open your profile and pick one of the plans shown there."
    ),
    "INSUFFICIENT_FUNDS": i18n.N_(
        "Your wallets cannot pay this plan's monthly fee. Top up your wallet or convert, "
        "then try again."
    ),
}
PERIOD_NOTE = i18n.N_(
    "The new plan starts now and runs for a month. Days left of a month you already paid for "
    "are not refunded."
)
OVER_CAP_NOTE = i18n.N_(
    "You have more open cards than this plan allows: they keep working, but you cannot issue "
    "new ones until you close some. The new plan starts now and runs for a month. Days left of "
    "a month you already paid for are not refunded."
)
THRESHOLD_ERROR = i18n.N_(
    "Enter an amount above 0 and at most 100000, such as 50 or 49.90 (at most 2 decimals)."
)
_TELEGRAM_HANDLE = re.compile(r"^@([A-Za-z0-9_]{4,32})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def terms(plan: Plan, max_active: int) -> list[tuple[str, str]]:
    """What a client pays and gets on `plan`: (label marked for translation, value)."""
    return [
        (i18n.N_("Monthly fee"), web.money(plan.monthly_fee, plan.currency)),
        (i18n.N_("Cards included"), str(plan.cards_included)),
        (i18n.N_("Each card past those"), web.money(plan.card_issue_fee, plan.currency)),
        (i18n.N_("Open cards at most"), str(max_active)),
        (i18n.N_("Top-up fee"), web.percent(plan.topup_fee_bps)),
        (i18n.N_("EUR⇄USD conversion fee"), web.percent(plan.fx_fee_bps)),
    ]


def bullets(plan: Plan) -> list[str]:
    """The operators' free text for the client's screen, one bullet a line."""
    return [line.strip() for line in plan.bullets.splitlines() if line.strip()]


@dataclass(frozen=True)
class Offer:
    """A plan of the home catalog as the profile lists it."""

    plan: Plan
    bullets: list[str]
    terms: list[tuple[str, str]]
    current: bool


def support_link(contact: str) -> str | None:
    """Where the support contact opens: a Telegram @handle, an e-mail or a web address."""
    contact = contact.strip()
    handle = _TELEGRAM_HANDLE.match(contact)
    if handle:
        return f"https://t.me/{handle.group(1)}"
    if contact.startswith("https://"):
        return contact
    if _EMAIL.match(contact):
        return f"mailto:{contact}"
    return None


@router.get("/profile", response_class=HTMLResponse)
async def profile(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    return await _profile_page(request, db)


async def _profile_page(
    request: Request,
    db: Session,
    *,
    threshold: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The tab; `threshold` and `errors`: the low-balance form sent back with what is wrong."""
    client = web.caller_of(request).client
    await client_state.ensure_plan(db, client)
    summary = await subscriptions.summary(db, client)
    offers = [
        Offer(
            plan=p,
            bullets=bullets(p),
            terms=terms(p, subscriptions.max_active_for(client, p)),
            current=p.id == client.plan_id,
        )
        for p in await plans.home_catalog(db)
    ]
    help_desk = await support.current(db)
    plan = summary.plan
    saved = client.low_balance_threshold
    context = {
        "tab": "profile",
        "title": i18n.N_("Profile"),
        "banner": await web.banner_for(db, "profile"),
        "username": client.username,
        "summary": summary,
        "status_word": STATUS_WORDS.get(summary.status, summary.status),
        "unpaid_hint": UNPAID_HINT if plan and summary.status != "active" else None,
        "plan_bullets": bullets(plan) if plan else [],
        "plan_terms": terms(plan, summary.max_active) if plan else [],
        "offers": offers,
        "support": help_desk,
        "support_link": support_link(help_desk.contact),
        "saved_language": client.app_language,
        "threshold_saved": saved,
        "threshold": _shown_threshold(saved) if threshold is None else threshold,
        "errors": errors or {},
        "done": request.query_params.get("done"),
    }
    return web.render(request, "profile/profile.html", context, status_code=status_code)


def _shown_threshold(saved: int | None) -> str:
    return format_units(saved, CENT_DECIMALS) if saved is not None else ""


def _change(before: str | None, after: str) -> str:
    return after if before is None or before == after else f"{before} → {after}"


@router.get("/profile/plan/{plan_id}", response_model=None)
async def plan_preview(
    plan_id: str, request: Request, me: SignedIn, db: Session
) -> HTMLResponse | RedirectResponse:
    """What switching to the plan costs now and what changes, before paying. A hidden or
    archived plan is refused as `select_plan` would refuse it: never previewed."""
    client = web.caller_of(request).client
    try:
        change = await subscriptions.preview_select(db, client, web.parse_id(plan_id))
    except AppError as exc:
        raise web.refusal(request, exc, PLAN_REFUSALS) from exc
    if change.unchanged:
        return web.redirect(PROFILE)  # already this plan, paid: nothing to confirm
    plan = change.plan
    fee = web.money(change.fee_amount, change.fee_currency or plan.currency)
    if change.fee_currency is None:
        charged = i18n._("Nothing: this plan is free")
    elif change.fee_currency == plan.currency:
        charged = i18n._(
            "%(amount)s from your %(currency)s wallet", amount=fee, currency=change.fee_currency
        )
    else:
        rate = await plans.rate(db)
        assert rate is not None  # the USD route exists only with a rate
        charged = i18n._(
            "%(amount)s from your USD wallet (%(eur)s at %(rate)s USD per EUR)",
            amount=fee,
            eur=web.money(plan.monthly_fee, plan.currency),
            rate=web.rate(rate.eur_usd_micros),
        )
    new = terms(plan, change.max_active_after)
    old = terms(change.current, change.max_active_before) if change.current else None
    rows = [
        (i18n.N_("Plan"), _change(change.current.name if change.current else None, plan.name)),
        (i18n.N_("Charged now"), charged),
        (i18n.N_("Paid until"), web.when(change.period_end)),
    ]
    rows += [
        (label, _change(old[i][1] if old else None, value)) for i, (label, value) in enumerate(new)
    ]
    context = {
        "tab": "profile",
        "title": i18n.N_("Change plan"),
        "heading": i18n.N_("Switch to this plan?"),
        "rows": rows,
        "note": OVER_CAP_NOTE if change.active_cards > change.max_active_after else PERIOD_NOTE,
        "action": f"{PROFILE}/plan",
        # No idempotency key: select_plan is one already (the plan just paid for, posted
        # again, is a no-op), so a double tap pays once.
        "fields": {"plan_id": str(plan.id)},
        "button": i18n.N_("Pay and switch") if change.fee_currency else i18n.N_("Switch plan"),
        "cancel": PROFILE,
    }
    return web.render(request, "confirm.html", context)


@router.post("/profile/plan")
async def select_plan(request: Request, me: SignedIn, db: Session) -> RedirectResponse:
    """Switch plan through the same service as `POST /api/botcartd/plan/select`."""
    form = await web.checked_form(request, me)
    try:
        client = web.changing_client(request)
        await subscriptions.select_plan(db, client, web.parse_id(form.get("plan_id", "")))
    except AppError as exc:
        raise web.refusal(request, exc, PLAN_REFUSALS) from exc
    return web.redirect(f"{PROFILE}?done=plan")


@router.post("/profile/language")
async def set_language(request: Request, me: SignedIn, db: Session) -> RedirectResponse:
    """Save the app's language. Allowed to a banned client too: it is not a business change,
    only how the pages it may still read are written."""
    form = await web.checked_form(request, me)
    language = form.get("language") or None
    await clients.set_app_language(db, web.caller_of(request).client, language)
    return web.redirect(f"{PROFILE}?done=language")


@router.post("/profile/low-balance")
async def set_low_balance(request: Request, me: SignedIn, db: Session) -> RedirectResponse:
    """Save (or, empty or "Turn off", clear) the amount under which the bot tells the client a
    wallet fell low. Allowed to a banned client: it changes what it hears, nothing else."""
    form = await web.checked_form(request, me)
    typed = "" if form.get("off") else form.get("low_balance_threshold", "").strip()
    text = typed.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        amount = parse_amount(text, CENT_DECIMALS) if text else None
        await clients.set_low_balance_threshold(db, web.caller_of(request).client, amount)
    except (ValueError, ValidationFailed):
        errors = {"low_balance_threshold": THRESHOLD_ERROR}
        page = await _profile_page(request, db, threshold=typed, errors=errors, status_code=400)
        raise web.Page(page) from None
    return web.redirect(f"{PROFILE}?done={'low_balance' if amount else 'low_balance_off'}")
