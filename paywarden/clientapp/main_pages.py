"""The wallet tab (`/app/main`): balances in EUR and USD, top-ups with USDT, conversion.

A top-up's page follows its order as the hosted checkout does (topups.progress), polled as a
fragment until it is credited or expired. A conversion is previewed with the very figures it
will post (wallets.conversion.preview), then confirmed with an idempotency key.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from paywarden.client_state import service as client_state
from paywarden.clientapp import web
from paywarden.clientapp.web import Me, SignedIn
from paywarden.console import i18n
from paywarden.kit.errors import AppError
from paywarden.kit.money import CENT_DECIMALS, USDT_DECIMALS, parse_amount
from paywarden.kit.qr import qr_svg
from paywarden.kit.time import iso
from paywarden.kit.web import Session
from paywarden.models.ledger import EUR, USD
from paywarden.plans.amounts import (
    MAX_CENTS,
    RATE_DECIMALS,
    format_cents,
)
from paywarden.topups import service as topups
from paywarden.topups.service import TopupProgress
from paywarden.wallets import conversion
from paywarden.wallets import service as wallets
from paywarden.wallets.conversion import Quote

router = web.app_router()

OTHER = {EUR: USD, USD: EUR}
TOPUP_ERRORS = {
    "amount": i18n.N_("Enter the amount in USDT, like 25 or 12.5 (at most 6 decimals)."),
    "range": i18n.N_("A top-up is from 1 USDT up to the maximum shown below."),
    "key": i18n.N_("This form has expired. Reload the page and try again."),
}
CONVERT_ERRORS = {
    "amount": i18n.N_("Enter the amount to exchange, like 50 or 12.50 (at most 2 decimals)."),
    "from": i18n.N_("Choose what to exchange: euros to dollars or dollars to euros."),
    "small": i18n.N_("This amount is too small to exchange. Enter a larger amount."),
}
STATE_TEXT = {
    topups.WAITING: (
        i18n.N_("Waiting for your payment"),
        i18n.N_(
            "Send exactly this amount of USDT to the address below, on the TRON network "
            "(TRC-20). This page updates by itself."
        ),
    ),
    topups.CONFIRMING: (
        i18n.N_("Payment seen, confirming"),
        i18n.N_(
            "Your transfer is on the TRON network and is being confirmed. There is no need to "
            "pay again."
        ),
    ),
    topups.CREDITED: (
        i18n.N_("Credited"),
        i18n.N_("The money is in your USD wallet."),
    ),
    topups.EXPIRED: (
        i18n.N_("Expired"),
        i18n.N_(
            "This top-up has expired. Do not send anything to its address any more; start a new "
            "top-up instead."
        ),
    ),
}


def _amount_text(raw: str | None) -> str:
    """A phone's decimal input as the amounts' grammar reads it: `12,50` and `1 000` too."""
    return "".join((raw or "").replace(",", ".").split())


def _topup_max() -> str:
    """TOPUP_MAX_USDT with the language's separators (`100,000`, ru `100 000`)."""
    return i18n.format_amount(Decimal(topups.config().max_usdt // topups.USDT_UNIT), 0)


async def _balances(db: Session, me: Me) -> dict[str, Any]:
    """The balances card's values: the wallets, and the top-up still waiting for payment."""
    latest = await topups.latest_for_client(db, me.id)
    waiting = None
    if latest is not None and latest.status == topups.PENDING:
        shown = await topups.progress(db, me.id, latest.id)
        waiting = None if shown.final else shown
    return {"wallets": await wallets.balances(db, me.id), "open_topup": waiting}


async def _main_page(
    request: Request,
    me: Me,
    db: Session,
    *,
    topup: dict[str, str] | None = None,
    convert: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "tab": "main",
        "title": i18n.N_("Wallet"),
        "banner": await web.banner_for(db, "main"),
        **await _balances(db, me),
        "topup": topup or {"amount": "", "topup_id": web.idempotency_key()},
        "convert": convert or {"amount": "", "from": EUR},
        "errors": errors or {},
        "topup_max": _topup_max(),
        "usdt_usd_rate": topups.config().usdt_usd_rate,
    }
    return web.render(request, "main/main.html", context, status_code=status_code)


@router.get("/main", response_class=HTMLResponse)
async def main(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    await client_state.ensure_plan(db, web.caller_of(request).client)
    return await _main_page(request, me, db)


@router.get("/main/balances", response_class=HTMLResponse)
async def balances_card(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """The balances card alone: the wallet page polls it, so a credit shows by itself."""
    return web.render(request, "main/_balances.html", await _balances(db, me))


# Top-ups


@router.post("/topups", response_class=HTMLResponse)
async def create_topup(request: Request, me: SignedIn, db: Session) -> RedirectResponse:
    form = await web.checked_form(request, me)
    client = web.changing_client(request)
    values = {"amount": form.get("amount", "").strip(), "topup_id": form.get("topup_id", "")}
    error = None
    try:
        # The form's own key is the top-up's id: a second tap answers the first top-up.
        topup_id = uuid.UUID(values["topup_id"])
    except ValueError:
        values["topup_id"], error = web.idempotency_key(), "key"
    try:
        amount = parse_amount(_amount_text(values["amount"]), USDT_DECIMALS)
    except ValueError:
        error = error or "amount"
    if error is None:
        try:
            made = await topups.create(
                db,
                request.app.state.gateway,
                client,
                amount,
                base_url=request.app.state.settings.public_base_url,
                topup_id=topup_id,
            )
        except AppError as exc:
            if exc.code != "VALIDATION_ERROR":
                raise
            error = "range"
    if error is not None:
        errors = {"amount": TOPUP_ERRORS[error]}
        page = await _main_page(request, me, db, topup=values, errors=errors, status_code=400)
        raise web.Page(page)
    return web.redirect(f"{web.PREFIX}/topups/{made.topup.id}")


def _topup_context(progress: TopupProgress) -> dict[str, Any]:
    title, detail = STATE_TEXT[progress.state]
    return {
        "p": progress,
        "row": progress.topup,
        "state_title": title,
        "state_detail": detail,
        "expires_iso": iso(progress.expires_at),
        "self_url": f"{web.PREFIX}/topups/{progress.topup.id}",
    }


@router.get("/topups/{topup_id}", response_class=HTMLResponse)
async def topup_page(topup_id: str, request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """Pay this: the amount, the address (copy, QR), the network, the time left and the live
    status; another client's top-up is not found."""
    progress = await topups.progress(db, me.id, web.parse_id(topup_id))
    context = {
        "tab": "main",
        "title": i18n.N_("Top up with USDT"),
        "banner": await web.banner_for(db, "main"),
        "qr": qr_svg(progress.address, title=i18n._("QR code of the deposit address")),
        # On the devnet nobody holds real USDT: the page says how to pay it from the CLI.
        "devnet_order": progress.topup.order_id if _on_devnet(request) else None,
        **_topup_context(progress),
    }
    return web.render(request, "main/topup.html", context)


def _on_devnet(request: Request) -> bool:
    settings = request.app.state.settings
    return settings.tron_network == "devnet" and not settings.is_production


@router.get("/topups/{topup_id}/status", response_class=HTMLResponse)
async def topup_status(topup_id: str, request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """The status block alone, polled by the top-up's page until it is final."""
    progress = await topups.progress(db, me.id, web.parse_id(topup_id))
    return web.render(request, "main/_topup_status.html", _topup_context(progress))


# Conversion EUR <-> USD


def _convert_values(source: dict[str, str]) -> dict[str, str]:
    return {"from": source.get("from", ""), "amount": source.get("amount", "").strip()}


def _parsed_conversion(values: dict[str, str]) -> tuple[str, int] | str:
    """(from currency, cents), or the form's error key."""
    if values["from"] not in OTHER:
        return "from"
    try:
        amount = parse_amount(_amount_text(values["amount"]), CENT_DECIMALS, max_units=MAX_CENTS)
    except ValueError:
        return "amount"
    return (values["from"], amount) if amount > 0 else "amount"


def _rate_text(rate: Decimal) -> str:
    return f"1 EUR = {web.rate(int(rate.scaleb(RATE_DECIMALS)))} USD"


def _quote_rows(q: Quote) -> list[tuple[str, str]]:
    return [
        (i18n.N_("You exchange"), web.money(q.amount, q.from_currency)),
        (i18n.N_("Rate"), _rate_text(q.rate)),
        (i18n.N_("Amount at this rate"), web.money(q.gross, q.to_currency)),
        (i18n.N_("Exchange fee"), f"{web.money(q.fee, q.to_currency)} ({web.percent(q.fee_bps)})"),
        (i18n.N_("You get"), web.money(q.net, q.to_currency)),
    ]


@router.get("/convert/preview", response_class=HTMLResponse)
async def convert_preview(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    """Check before exchanging: the operators' rate, the plan's fee, what leaves one wallet
    and what reaches the other, exactly as the conversion will post them."""
    client = web.changing_client(request)
    values = _convert_values(dict(request.query_params))
    parsed = _parsed_conversion(values)
    q: Quote | None = None
    if isinstance(parsed, tuple):
        source, amount = parsed
        try:
            q = await conversion.preview(db, client, source, OTHER[source], amount)
        except AppError as exc:
            if exc.code != "VALIDATION_ERROR":
                raise web.refusal(request, exc) from exc
            parsed = "small"
    if q is None:
        error = parsed if isinstance(parsed, str) else "small"
        errors = {"convert": CONVERT_ERRORS[error]}
        page = await _main_page(request, me, db, convert=values, errors=errors, status_code=400)
        raise web.Page(page)
    context = {
        "tab": "main",
        "title": i18n.N_("Exchange"),
        "heading": i18n.N_("Check the exchange"),
        "rows": _quote_rows(q),
        "note": i18n.N_(
            "The rate and the fee are those of this moment. Confirm to move the money now."
        ),
        "action": f"{web.PREFIX}/convert",
        "fields": {
            "from": q.from_currency,
            "amount": format_cents(q.amount),
            "idempotency_key": web.idempotency_key(),
        },
        "button": i18n.N_("Exchange now"),
        "cancel": f"{web.PREFIX}/main",
    }
    return web.render(request, "confirm.html", context)


@router.post("/convert", response_class=HTMLResponse)
async def convert(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    form = await web.checked_form(request, me)
    client = web.changing_client(request)
    parsed = _parsed_conversion(_convert_values(form))
    key = form.get("idempotency_key", "")
    if isinstance(parsed, str) or not key:
        return web.error_page(request, 400, TOPUP_ERRORS["key"])
    source, amount = parsed
    try:
        done = await conversion.convert(
            db, client, source, OTHER[source], amount, idempotency_key=key
        )
    except AppError as exc:
        raise web.refusal(request, exc, {"VALIDATION_ERROR": CONVERT_ERRORS["small"]}) from exc
    context = {
        "tab": "main",
        "title": i18n.N_("Exchanged"),
        "rows": [
            (i18n.N_("Taken from your wallet"), web.money(done.debited, done.from_currency)),
            (i18n.N_("Rate"), _rate_text(done.rate)),
            (i18n.N_("Exchange fee"), web.money(done.fee, done.to_currency)),
            (i18n.N_("Added to your wallet"), web.money(done.credited, done.to_currency)),
        ],
        **await _balances(db, me),
    }
    return web.render(request, "main/converted.html", context)
