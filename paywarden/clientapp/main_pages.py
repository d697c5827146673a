"""The wallet tab (`/app/main`): balances in EUR and USD, top-ups with USDT, conversion."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from paywarden.client_state import service as client_state
from paywarden.clientapp import web
from paywarden.clientapp.web import SignedIn
from paywarden.console import i18n
from paywarden.kit.web import Session
from paywarden.wallets import service as wallets

router = web.app_router()


@router.get("/main", response_class=HTMLResponse)
async def main(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    await client_state.ensure_plan(db, web.caller_of(request).client)
    context = {
        "tab": "main",
        "title": i18n.N_("Wallet"),
        "banner": await web.banner_for(db, "main"),
        "wallets": await wallets.balances(db, me.id),
    }
    return web.render(request, "main/main.html", context)
