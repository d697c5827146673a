"""Gateway pages: dashboard, merchants, orders, incidents, wallet, on the admin API's services."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from paywarden.console import web
from paywarden.console.charts import revenue_chart
from paywarden.console.i18n import N_, _
from paywarden.console.web import SignedIn
from paywarden.incidents import service as incidents
from paywarden.incidents.schemas import IncidentOut
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.logging import get_logger
from paywarden.kit.web import Session
from paywarden.merchants import service as merchants
from paywarden.merchants.errors import MerchantNameTaken
from paywarden.merchants.schemas import (
    MerchantCreateIn,
    MerchantListItem,
    MerchantOut,
    MerchantStatsOut,
    MerchantUpdateIn,
)
from paywarden.operators.service import Principal
from paywarden.orders import dashboard as gateway_view
from paywarden.orders import service as orders
from paywarden.orders.filters import OrderFilter
from paywarden.orders.schemas import AdminOrderOut, PaymentOut, RetryWebhookIn
from paywarden.orders.service import WEBHOOK_RETRYABLE
from paywarden.sweeps import wallet as wallet_view
from paywarden.sweeps.schemas import WalletOut
from paywarden.webhooks.service import WebhookPolicy, check_destination

log = get_logger(__name__)

router = web.console_router()

NAV = [
    web.NavEntry("Gateway", "dashboard", "Dashboard", f"{web.PREFIX}/gateway", 0),
    web.NavEntry("Gateway", "merchants", "Merchants", f"{web.PREFIX}/merchants", 1),
    web.NavEntry("Gateway", "orders", "Orders", f"{web.PREFIX}/orders", 2),
    web.NavEntry("Gateway", "incidents", "Incidents", f"{web.PREFIX}/incidents", 3),
    web.NavEntry("Gateway", "wallet", "Wallet", f"{web.PREFIX}/wallet", 4),
]

NOTICES = {
    "updated": N_("Saved."),
    "suspended": N_("The merchant is suspended: it can read its orders but not create new ones."),
    "reactivated": N_("The merchant is active again."),
}


# Dashboard


@router.get("/gateway")
async def dashboard(request: Request, db: Session, me: SignedIn) -> Response:
    gateway = request.app.state.gateway
    stats = await gateway_view.summary(db, gateway)
    daily = await gateway_view.daily_revenue(db, gateway)
    latest = [IncidentOut.of(r) for r in await incidents.latest(db)]
    wallet, wallet_error = await _wallet(request, db)
    chart = revenue_chart([(d.date, d.total_received) for d in daily])
    return web.render(
        request,
        "dashboard.html",
        {
            "title": N_("Dashboard"),
            "nav": "dashboard",
            "stats": stats,
            "chart": chart,
            "incidents": latest,
            "wallet": wallet,
            "wallet_error": wallet_error,
        },
    )


async def _wallet(request: Request, db: Session) -> tuple[WalletOut | None, str | None]:
    """What GET /api/v1/admin/wallet answers, or why it could not be read."""
    state = request.app.state
    try:
        return await wallet_view.overview(db, state.settings, state.network, state.gateway), None
    except Exception as exc:  # a TronGrid outage must not take the dashboard down
        log.warning("console_wallet_unavailable", error_type=type(exc).__name__)
        return None, N_("The hot wallet could not be read just now.")


# Merchants


@router.get("/merchants")
async def merchant_list(request: Request, db: Session, me: SignedIn) -> Response:
    rows = await merchants.list_all(db)
    items = [MerchantListItem(**MerchantOut.of(m).model_dump(), order_count=n) for m, n in rows]
    return web.render(
        request,
        "merchants.html",
        {"title": N_("Merchants"), "nav": "merchants", "merchants": items},
    )


def policy(request: Request) -> WebhookPolicy:
    """The webhook policy (SSRF guard) the app runs with."""
    webhooks: WebhookPolicy = request.app.state.gateway.webhooks
    return webhooks


def _merchant_form(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    merchant: MerchantOut | None = None,
    status_code: int = 200,
) -> Response:
    title = _("Edit %(name)s", name=merchant.name) if merchant else N_("New merchant")
    template, nav = "merchant_form.html", "merchants"
    return web.form_page(
        request, template, nav, title, values, errors, status_code, merchant=merchant
    )


@router.get("/merchants/new")
async def merchant_new(request: Request, me: SignedIn) -> Response:
    return _merchant_form(request, values={}, errors={})


@router.post("/merchants/new")
async def merchant_create(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    values = web.form_values(form, ("name", "webhook_url"), raw=("webhook_secret",))
    try:
        body = MerchantCreateIn.model_validate(
            {**values, "webhook_url": values["webhook_url"] or None}
        )
    except ValidationError as exc:
        raise web.Page(
            _merchant_form(request, values=values, errors=web.field_errors(exc), status_code=400)
        ) from exc
    try:
        await check_destination(policy(request), "webhook_url", body.webhook_url)
    except ValidationFailed as exc:
        page = _merchant_form(
            request, values=values, errors={"webhook_url": exc.message}, status_code=400
        )
        raise web.Page(page) from exc
    try:
        made = await merchants.create(
            db,
            name=body.name,
            webhook_secret=body.webhook_secret,
            webhook_url=body.webhook_url,
            actor=web.actor_of(request, me),
        )
    except MerchantNameTaken as exc:
        page = _merchant_form(request, values=values, errors={"name": exc.message}, status_code=409)
        raise web.Page(page) from exc
    return _key_page(request, MerchantOut.of(made.merchant), made.api_key, created=True)


def _key_page(request: Request, merchant: MerchantOut, api_key: str, *, created: bool) -> Response:
    return web.render(
        request,
        "merchant_key.html",
        {
            "title": N_("API key"),
            "nav": "merchants",
            "merchant": merchant,
            "api_key": api_key,
            "created": created,
        },
    )


@router.get("/merchants/{merchant_id}")
async def merchant_detail(
    merchant_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    d = await merchants.detail(db, web.parse_id(merchant_id))
    base = request.app.state.settings.public_base_url
    return web.render(
        request,
        "merchant_detail.html",
        {
            "title": d.merchant.name,
            "nav": "merchants",
            "merchant": MerchantOut.of(d.merchant),
            "stats": MerchantStatsOut.of(d.stats),
            "orders": [PaymentOut.of(o, base) for o in d.recent_orders],
            "incidents": [IncidentOut.of(r) for r in d.recent_incidents],
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
    )


@router.get("/merchants/{merchant_id}/edit")
async def merchant_edit(merchant_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    merchant = MerchantOut.of(await merchants.get(db, web.parse_id(merchant_id)))
    values = {"name": merchant.name, "webhook_url": merchant.webhook_url or ""}
    return _merchant_form(request, values=values, errors={}, merchant=merchant)


@router.post("/merchants/{merchant_id}/edit")
async def merchant_update(
    merchant_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    form = await web.checked_form(request, me)
    current = MerchantOut.of(await merchants.get(db, web.parse_id(merchant_id)))
    values = {k: form.get(k, "").strip() for k in ("name", "webhook_url")}
    secret = form.get("webhook_secret", "")
    changes: dict[str, Any] = {}
    if values["name"] != current.name:
        changes["name"] = values["name"]
    if (values["webhook_url"] or None) != current.webhook_url:
        changes["webhook_url"] = values["webhook_url"] or None
    if secret:
        changes["webhook_secret"] = secret
    if not changes:
        return web.redirect(f"/admin/merchants/{current.id}")
    try:
        body = MerchantUpdateIn.model_validate(changes)
    except ValidationError as exc:
        page = _merchant_form(
            request, values=values, errors=web.field_errors(exc), merchant=current, status_code=400
        )
        raise web.Page(page) from exc
    try:
        if "webhook_url" in body.model_fields_set:
            await check_destination(policy(request), "webhook_url", body.webhook_url)
    except ValidationFailed as exc:
        page = _merchant_form(
            request,
            values=values,
            errors={"webhook_url": exc.message},
            merchant=current,
            status_code=400,
        )
        raise web.Page(page) from exc
    try:
        await merchants.update(
            db,
            current.id,
            {f: getattr(body, f) for f in body.model_fields_set},
            web.actor_of(request, me),
        )
    except MerchantNameTaken as exc:
        page = _merchant_form(
            request, values=values, errors={"name": exc.message}, merchant=current, status_code=409
        )
        raise web.Page(page) from exc
    return web.redirect(f"/admin/merchants/{current.id}?done=updated")


def _merchant_confirm(step: str, texts: Callable[[MerchantOut], dict[str, str]]) -> None:
    """Register the confirm page of a step on a merchant (GET /merchants/{id}/{step}, posting to
    the same path): `texts` gives its title, question, detail and button for the merchant."""

    async def ask(merchant_id: str, request: Request, db: Session, me: SignedIn) -> Response:
        m = MerchantOut.of(await merchants.get(db, web.parse_id(merchant_id)))
        back = f"/admin/merchants/{m.id}"
        return web.confirm_page(
            request, "merchants", action=f"{back}/{step}", cancel=back, **texts(m)
        )

    router.get(f"/merchants/{{merchant_id}}/{step}", name=f"merchant_{step}_confirm")(ask)


_merchant_confirm(
    "suspend",
    lambda m: {
        "title": _("Suspend %(name)s?", name=m.name),
        "question": _("Suspend %(name)s? It will not be able to create new orders.", name=m.name),
        "detail": N_(
            "Its open orders go on, and it can still read its orders. You can reactivate it."
        ),
        "button": N_("Suspend"),
    },
)
_merchant_confirm(
    "rotate-key",
    lambda m: {
        "title": _("Rotate the API key of %(name)s?", name=m.name),
        "question": _(
            "Make a new API key for %(name)s? The current key (%(prefix)s…) stops working at once.",
            name=m.name,
            prefix=m.api_key_prefix,
        ),
        "detail": N_("The new key is shown once, on the next page."),
        "button": N_("Rotate the key"),
    },
)


async def _set_active(
    request: Request, db: Session, me: Principal, merchant_id: str, active: bool, done: str
) -> Response:
    await web.checked_form(request, me)
    changes = {"is_active": active}
    m = await merchants.update(db, web.parse_id(merchant_id), changes, web.actor_of(request, me))
    return web.redirect(f"/admin/merchants/{m.id}?done={done}")


@router.post("/merchants/{merchant_id}/suspend")
async def merchant_suspend(
    merchant_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    return await _set_active(request, db, me, merchant_id, False, "suspended")


@router.post("/merchants/{merchant_id}/reactivate")
async def merchant_reactivate(
    merchant_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    return await _set_active(request, db, me, merchant_id, True, "reactivated")


@router.post("/merchants/{merchant_id}/rotate-key")
async def merchant_rotate(
    merchant_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    await web.checked_form(request, me)
    made = await merchants.rotate_api_key(db, web.parse_id(merchant_id), web.actor_of(request, me))
    return _key_page(request, MerchantOut.of(made.merchant), made.api_key, created=False)


# Incidents and the wallet


@router.get("/incidents")
async def incident_list(request: Request, db: Session, me: SignedIn) -> Response:
    latest = [IncidentOut.of(r) for r in await incidents.latest(db, limit=50)]
    return web.render(
        request,
        "incidents.html",
        {"title": N_("Incidents"), "nav": "incidents", "incidents": latest},
    )


@router.get("/wallet")
async def wallet_page(request: Request, db: Session, me: SignedIn) -> Response:
    wallet, error = await _wallet(request, db)
    return web.render(
        request,
        "wallet.html",
        {"title": N_("Wallet"), "nav": "wallet", "wallet": wallet, "wallet_error": error},
    )


# Orders

ORDER_STATUSES = ["pending", "confirming", "confirmed", "completed", "callback_failed", "expired"]
ORDERS_PER_PAGE = 25


@router.get("/orders")
async def order_list(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(
        request, "/admin/orders", ("status", "merchant_id", "from", "to"), ORDERS_PER_PAGE
    )
    merchant_id = lq.uuid_of("merchant_id", N_("Unknown merchant."))
    status = lq.values["status"] if lq.values["status"] in ORDER_STATUSES else None
    if lq.values["status"] and status is None:
        lq.errors.append(N_("Unknown status."))
    f = OrderFilter(
        merchant_id=merchant_id,
        status=status,
        **lq.window(),
    )
    page = await orders.search(db, f, lq.paging)

    return web.list_page(
        request,
        "orders.html",
        lq,
        page,
        {
            "title": N_("Orders"),
            "nav": "orders",
            "orders": [AdminOrderOut.of(o, name) for o, name in page.items],
            "statuses": ORDER_STATUSES,
            "merchants": [MerchantOut.of(m) for m, _ in await merchants.list_all(db)],
        },
    )


ORDER_NOTICES = {
    "webhook": N_("The webhook is queued again; its attempts show below."),
    "sweep": N_("The sweep is queued again."),
}


async def _order_page(
    request: Request,
    db: Session,
    me: SignedIn,
    order_id: uuid.UUID,
    *,
    error: str | None = None,
    callback_url: str = "",
    status_code: int = 200,
) -> Response:
    state = request.app.state
    detail = await gateway_view.order_detail(db, order_id, state.settings, state.network)
    # Poll while something is still to happen: the payment, its finality, a webhook in flight.
    live = detail.order.status in ("pending", "confirming", "confirmed") or any(
        d.status in ("pending", "delivering") for w in detail.webhooks for d in w.deliveries
    )
    return web.render(
        request,
        "order_detail.html",
        {
            "title": _("Order %(id)s", id=detail.order.external_id),
            "nav": "orders",
            "d": detail,
            "notice": ORDER_NOTICES.get(request.query_params.get("done", "")),
            "error": error,
            "callback_url": callback_url,
            "retryable": detail.order.status in WEBHOOK_RETRYABLE,
            "live": live,
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    return await _order_page(request, db, me, web.parse_id(order_id))


@router.post("/orders/{order_id}/retry-webhook")
async def order_retry_webhook(
    order_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    form = await web.checked_form(request, me)
    oid = web.parse_id(order_id)
    url = form.get("callback_url", "").strip()
    try:
        parsed = RetryWebhookIn.model_validate({"callback_url": url or None})
        await check_destination(policy(request), "callback_url", parsed.callback_url)
    except ValidationError:
        error = N_("The one-time URL must be a valid http(s) URL.")
    except ValidationFailed as exc:
        error = exc.message
    else:
        await orders.request_webhook_retry(
            db,
            oid,
            parsed.callback_url,
            web.actor_of(request, me),
            base_url=request.app.state.settings.public_base_url,
        )
        return web.redirect(f"/admin/orders/{oid}?done=webhook")
    page = await _order_page(request, db, me, oid, error=error, callback_url=url, status_code=400)
    raise web.Page(page)


@router.post("/orders/{order_id}/retry-sweep")
async def order_retry_sweep(order_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    await web.checked_form(request, me)
    oid = web.parse_id(order_id)
    await orders.request_sweep_retry(
        db,
        oid,
        sweep_enabled=request.app.state.settings.sweep_enabled,
        actor=web.actor_of(request, me),
    )
    return web.redirect(f"/admin/orders/{oid}?done=sweep")
