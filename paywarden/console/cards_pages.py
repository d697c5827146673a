"""The cards business's dashboard (`/admin/cards`): the seed's Dashboard blocks in its order, from
the same services and schemas as `GET /api/v1/admin/analytics/overview` and `/daily`, the
breakdown tabs of card transactions, and the operators' estimates form (`PUT .../estimates`).
Its health block includes the Telegram bot's status and its notification queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import Request, Response

from paywarden.card_transaction_review import service as analytics
from paywarden.card_transaction_review.filters import Dimension
from paywarden.card_transaction_review.schemas import GroupOut, lower_bound, upper_bound
from paywarden.cards_dashboard import service as overview_service
from paywarden.cards_dashboard.schemas import DayOut, OverviewOut
from paywarden.cards_dashboard.service import PERIODS, Period
from paywarden.console import web
from paywarden.console.charts import SeriesChart, series_chart
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.time import utcnow
from paywarden.kit.web import Session
from paywarden.operators import service as operators
from paywarden.operators.schemas import SessionOut
from paywarden.operators.service import Principal
from paywarden.treasury import service as treasury

router = web.console_router()

NAV = [web.NavEntry("Cards", "cards", "Dashboard", f"{web.PREFIX}/cards", 0)]

PATH = f"{web.PREFIX}/cards"
TRANSACTIONS = f"{web.PREFIX}/card-transactions"
# `PUT /api/v1/admin/analytics/estimates` is for super admins (paywarden/treasury/endpoints.py).
ESTIMATE_ROLES = ("super_admin",)
CURRENCIES = ("EUR", "USD")
CHART_DAYS = 30
BREAKDOWN_LIMIT = 20

PERIOD_LABELS: dict[str, str] = {
    "today": N_("Today"),
    "7d": N_("7 days"),
    "30d": N_("30 days"),
    "mtd": N_("Month to date"),
}
TABS: dict[str, str] = {
    "merchant": N_("Merchants"),
    "decline_reason": N_("Declines"),
    "mcc": N_("MCC"),
    "client_volume": N_("Clients (volume)"),
    "client_declines": N_("Clients (declines)"),
}
# The filter of the card-transactions list a tab's row opens.
TAB_FILTER = {
    "merchant": "merchant",
    "decline_reason": "decline_reason",
    "mcc": "mcc",
    "client_volume": "client_id",
    "client_declines": "client_id",
}
REASONS = (
    ("insufficient_funds", N_("Insufficient funds")),
    ("do_not_honor", N_("Do not honor")),
    ("three_ds", N_("3DS required/failed")),
    ("other", N_("Other")),
)
BOT_MODES = {"polling": N_("long polling"), "webhook": N_("webhook")}
FORM_FIELDS = ("pending_EUR", "pending_USD", "holds_EUR", "holds_USD", "runway_days_override")


def charts(days: list[DayOut]) -> list[SeriesChart]:
    dates = [d.date for d in days]
    out = [
        series_chart(
            f"chart-flow-{c.lower()}",
            N_("Money flow, last 30 days (%(currency)s): top-ups vs spend"),
            {"currency": c},
            dates,
            [
                ("topups", N_("Top-ups"), [Decimal(d.topups[c]) for d in days]),
                ("spend", N_("Spend"), [Decimal(d.spend[c]) for d in days]),
            ],
            fmt=lambda v, c=c: f"{v:,.2f} {c}",
        )
        for c in CURRENCIES
    ]
    rates: list[Decimal | None] = []
    for d in days:
        decided = d.approvals + d.declines
        rates.append(
            (Decimal(d.approvals) * 100 / decided).quantize(Decimal("0.01")) if decided else None
        )
    out.append(
        series_chart(
            "chart-approval",
            N_("Approval rate per day, last 30 days, percent"),
            {},
            dates,
            [("approved", N_("Approval rate"), rates)],
            top=Decimal(100),
            fmt=lambda v: f"{v:.2f} %",
        )
    )
    out.append(
        series_chart(
            "chart-declines",
            N_("Decline reasons per day, last 30 days"),
            {},
            dates,
            [
                (
                    f"reason-{key.replace('_', '-')}",
                    label,
                    [Decimal(getattr(d.declines_by_reason, key)) for d in days],
                )
                for key, label in REASONS
            ],
            stacked=True,
            counts=True,
            fmt=lambda v: f"{int(v)}",
        )
    )
    return out


# --- the page -----------------------------------------------------------------------------------


def _choice(value: str | None, allowed: Any, default: str) -> str:
    return value if value in allowed else default


def may_edit_estimates(principal: Principal) -> bool:
    return principal.operator.role in ESTIMATE_ROLES


def _tx_link(tab: str, key: str | None, first: str, last: str) -> str | None:
    if key is None:
        return None
    query = {TAB_FILTER[tab]: key, "from": first, "to": last}
    if tab in ("decline_reason", "client_declines"):
        query["status"] = "declined"
    return f"{TRANSACTIONS}?{urlencode(query)}"


async def _page(
    request: Request,
    db: Session,
    me: Principal,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    adapter = getattr(request.app.state, "issuer", None)
    if adapter is None:
        return web.render(
            request,
            "cards/off.html",
            {"title": N_("Cards"), "nav": "cards"},
            status_code=status_code,
        )
    q = request.query_params
    period = cast(Period, _choice(q.get("period"), PERIODS, "today"))
    tab = _choice(q.get("tab"), TABS, "merchant")
    now = utcnow()
    tz = request.app.state.settings.tz
    found = await overview_service.overview(db, adapter, period, tz, now)
    treasury.set_gauges(request.app.state.metrics, found.issuer, found.estimates)
    out = OverviewOut.of(found)
    days = [DayOut.of(d) for d in await overview_service.daily(db, tz, now, CHART_DAYS)]
    sessions = [
        SessionOut.of(s, email, me.session.id) for s, email in await operators.list_sessions(db, me)
    ]
    e = out.estimates
    form_values = values or {
        "pending_EUR": e.pending_settlements["EUR"],
        "pending_USD": e.pending_settlements["USD"],
        "holds_EUR": e.provider_holds["EUR"],
        "holds_USD": e.provider_holds["USD"],
        "runway_days_override": ""
        if e.runway_days_override is None
        else str(e.runway_days_override),
    }
    notice = N_("Estimates saved.") if q.get("done") == "estimates" else None
    return web.render(
        request,
        "cards/dashboard.html",
        {
            "title": N_("Cards dashboard"),
            "nav": "cards",
            "o": out,
            "period": period,
            "periods": PERIOD_LABELS,
            "tab": tab,
            "reasons": REASONS,
            "charts": charts(days),
            "sessions": sessions,
            "can_edit": may_edit_estimates(me),
            "values": form_values,
            "error": error,
            "notice": notice,
            "currencies": CURRENCIES,
            "bot_modes": BOT_MODES,
        },
        status_code=status_code,
    )


@router.get("/cards")
async def dashboard(request: Request, db: Session, me: SignedIn) -> Response:
    return await _page(request, db, me)


@router.get("/cards/breakdown")
async def breakdown(request: Request, db: Session, me: SignedIn) -> Response:
    """The dashboard's "Global webhook transactions" tabs. Grouping a month of transactions is
    the dashboard's one costly read, so the dashboard loads it with htmx after it is shown; the
    same URL without htmx is a page of its own (the link the dashboard offers without JS)."""
    q = request.query_params
    period = cast(Period, _choice(q.get("period"), PERIODS, "today"))
    tab = _choice(q.get("tab"), TABS, "merchant")
    first, last = (
        d.isoformat()
        for d in overview_service.period_bounds(period, request.app.state.settings.tz, utcnow())
    )
    found = await analytics.breakdown(
        db, cast(Dimension, tab), lower_bound(first), upper_bound(last), BREAKDOWN_LIMIT
    )
    context = {
        "title": N_("Global webhook transactions (support / anti-fraud)"),
        "nav": "cards",
        "period": period,
        "periods": PERIOD_LABELS,
        "tab": tab,
        "tabs": TABS,
        "groups": [(GroupOut.of(g), _tx_link(tab, g.key, first, last)) for g in found.groups],
        "all_tx_url": f"{TRANSACTIONS}?{urlencode({'from': first, 'to': last})}",
    }
    fragment = request.headers.get("HX-Request") == "true"
    return web.render(
        request, "cards/_breakdown.html" if fragment else "cards/breakdown.html", context
    )


def _changes(values: dict[str, str]) -> dict[str, Any]:
    """The form as `save_estimates` takes it (as `PUT .../estimates` gives it): the service
    checks every value, so its messages are the API's."""
    override: Any = values["runway_days_override"] or None
    if override is not None and override.removeprefix("-").isdigit():
        override = int(override)  # anything else: the service says what is wrong with it
    return {
        "pending_settlements": {c: values[f"pending_{c}"] for c in CURRENCIES},
        "provider_holds": {c: values[f"holds_{c}"] for c in CURRENCIES},
        "runway_days_override": override,
    }


@router.post("/cards/estimates")
async def save_estimates(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    operators.require_super_admin(me)  # as PUT /api/v1/admin/analytics/estimates
    values = {k: form.get(k, "").strip() for k in FORM_FIELDS}
    try:
        await treasury.save_estimates(db, _changes(values), web.actor_of(request, me))
    except ValidationFailed as exc:
        page = await _page(request, db, me, values=values, error=exc.message, status_code=400)
        raise web.Page(page) from exc
    return web.redirect(f"{PATH}?done=estimates#estimates")
