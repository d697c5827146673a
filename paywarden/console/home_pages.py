"""`/admin`: the seed's "Admin quick start" — pick a flow, with the day's key figures of both
products (the gateway's orders and receipts, the cards' money flow and approval rate)."""

from __future__ import annotations

from fastapi import Request, Response

from paywarden.cards_dashboard import service as card_overview
from paywarden.cards_dashboard.schemas import OverviewOut
from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.kit.money import format_usdt, percent
from paywarden.kit.time import utcnow
from paywarden.kit.web import Session
from paywarden.orders import stats as gateway_stats

router = web.console_router()

NAV = [web.NavEntry("Cards", "home", N_("Quick start"), web.PREFIX, -1)]
PROVIDER_STATUSES = (N_("ok"), N_("degraded"), N_("down"))  # shown translated

# (label, path, what it is for, who may use it): the seed's flows, in its order.
FLOWS: list[tuple[str, str, str, tuple[str, ...] | None]] = [
    (
        N_("Metrics overview"),
        f"{web.PREFIX}/cards",
        N_("Money flow, fees, approvals, issuer float"),
        None,
    ),
    (
        N_("Client work"),
        f"{web.PREFIX}/clients",
        N_("Find a client, tariff, cards, top-ups, bans"),
        None,
    ),
    (N_("Accounts"), f"{web.PREFIX}/operators", N_("Operators and their roles"), ("super_admin",)),
    (N_("Accounts"), f"{web.PREFIX}/sessions", N_("Your sessions and the audit log"), None),
    (N_("Plans"), f"{web.PREFIX}/plans", N_("Tariffs, the home catalog, the FX rate"), None),
    (N_("Support"), f"{web.PREFIX}/support", N_("Contact, hours, reply times"), None),
    (N_("Gateway"), f"{web.PREFIX}/gateway", N_("Merchants' orders, incidents, the wallet"), None),
]


@router.get("")
async def quick_start(request: Request, db: Session, me: SignedIn) -> Response:
    gateway = await gateway_stats.dashboard(db, request.app.state.gateway)
    today = gateway.today
    issuer = getattr(request.app.state, "issuer", None)
    cards = None
    if issuer is not None:  # with ISSUER=none the cards product is off
        settings = request.app.state.settings
        found = await card_overview.overview(db, issuer, "today", settings.tz, utcnow())
        cards = OverviewOut.of(found)
    flows = [
        (label, path, hint)
        for label, path, hint, roles in FLOWS
        if not roles or me.operator.role in roles
    ]
    return web.render(
        request,
        "home/quick_start.html",
        {
            "title": N_("Admin quick start"),
            "nav": "home",
            "flows": flows,
            "gateway": {
                "received": format_usdt(today.total_received),
                "orders": today.order_count,
                "completed": today.paid_count,
                "success_rate": percent(today.paid_count, today.order_count),
            },
            "cards": cards,
        },
    )
