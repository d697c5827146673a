"""The hosted checkout (`/pay/{order_id}`): the page a payer opens, and the status it polls.

Public, no auth, not part of the JSON API (left out of the OpenAPI schema). The page renders
fully without JavaScript; a small inline script, allowed by a per-response CSP nonce, adds the
countdown, the copy buttons and live status polling.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from paywarden.checkout import service
from paywarden.checkout.service import Checkout
from paywarden.kit.qr import qr_svg
from paywarden.kit.templating import page_templates
from paywarden.kit.time import iso, utcnow
from paywarden.kit.web import DbRoute, Session
from paywarden.orders.errors import OrderNotFound

router = APIRouter(prefix="/pay", route_class=DbRoute, include_in_schema=False)

templates = page_templates(Path(__file__).parent / "templates")

# The words the payer sees for each state; the page's script gets the same table.
STATE_TEXT: dict[str, dict[str, str]] = {
    service.WAITING: {
        "title": "Waiting for payment",
        "detail": "Send exactly the amount below to this address. This page updates by itself.",
    },
    service.SEEN: {
        "title": "Payment seen, confirming",
        "detail": "Your transfer is on the TRON network and is being confirmed. "
        "There is no need to pay again.",
    },
    service.DONE: {
        "title": "Paid",
        "detail": "The payment has been received. You can close this page.",
    },
    service.LAPSED: {
        "title": "Expired",
        "detail": "This payment request has expired. Do not send funds for it; "
        "ask the merchant for a new payment link.",
    },
}

NO_STORE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/{order_id}", response_class=HTMLResponse)
async def checkout_page(order_id: str, request: Request, db: Session) -> HTMLResponse:
    try:
        checkout = await service.page(db, order_id)
    except OrderNotFound:
        return _html("not_found.html", {}, status_code=404)
    return _html("checkout.html", _page_context(checkout, request))


@router.get("/{order_id}/status")
async def checkout_status(order_id: str, db: Session) -> JSONResponse:
    checkout = await service.status(db, order_id)
    return JSONResponse(status_body(checkout), headers=NO_STORE_HEADERS)


def status_body(c: Checkout) -> dict[str, Any]:
    return {
        "id": str(c.order_id),
        "status": c.status,
        "amount_expected": c.amount_expected,
        "amount_received": c.amount_received,
        "expires_at": iso(c.expires_at),
        "paid": c.paid,
        "expired": c.expired,
    }


def _page_context(c: Checkout, request: Request) -> dict[str, Any]:
    return {
        "c": c,
        "state": c.state,
        "text": STATE_TEXT[c.state],
        "labels": STATE_TEXT,
        "qr_svg": qr_svg(c.address),
        "expires_iso": iso(c.expires_at),
        "expires_text": c.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "now_iso": iso(utcnow()),
        "status_url": request.url_for("checkout_status", order_id=str(c.order_id)).path,
    }


def _html(template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    body = templates.get_template(template).render(nonce=nonce, **context)
    csp = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        f"style-src 'nonce-{nonce}'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {"Content-Security-Policy": csp, **NO_STORE_HEADERS}
    return HTMLResponse(body, status_code=status_code, headers=headers)
