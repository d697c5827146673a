"""The 3-D Secure tab (`/app/3ds`): the codes waiting to be typed, live, and the past ones.

"Pending" here is a code the client can still type: its row in `codes_3ds` is `pending` (the
purchase is not yet authorized, declined or lapsed) and its `expires_at` is still ahead — the
worker marks a lapsed code `expired` only on its next pass, so the clock decides, not the
status (card_transactions/codes.py, `live_for`). Everything else is history, shown without
the code's value (a spent code is kept nowhere).

The pending block is an htmx fragment (`/app/3ds/pending`) polled every 2 s. Its URL carries
a fingerprint of the codes it shows: while nothing changed the fragment answers 204 (htmx
swaps nothing: a slow connection carries no body, and a code being copied stays put); on a
change (a new code, one used, declined or lapsed) it sends the new block and, out of band,
the history.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.card_transactions import codes
from paywarden.card_transactions.codes import ClientCode
from paywarden.cards import service as cards
from paywarden.clientapp import web
from paywarden.clientapp.web import SignedIn
from paywarden.console import i18n
from paywarden.kit.time import iso, utcnow
from paywarden.kit.web import Session

router = web.app_router()

PAGE = f"{web.PREFIX}/3ds"
OUTCOMES = {
    "used": i18n.N_("Used"),
    "declined": i18n.N_("Declined"),
    "expired": i18n.N_("Expired"),
}


@dataclass(frozen=True)
class CodeView:
    """A code as the tab shows it: its card's last four and, while live, the time left."""

    code: ClientCode
    last4: str | None
    expires_iso: str
    left: str  # m:ss at render time (the script counts down from here)
    outcome: str


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _left(expires_at: datetime, now: datetime) -> str:
    seconds = max(0, int((_aware(expires_at) - now).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _views(
    rows: Sequence[ClientCode], last4: dict[uuid.UUID, str | None], now: datetime
) -> list[CodeView]:
    return [
        CodeView(
            code=c,
            last4=last4.get(c.card_id) if c.card_id else None,
            expires_iso=iso(c.expires_at) or "",
            left=_left(c.expires_at, now),
            outcome=OUTCOMES.get(c.status, i18n.N_("Expired")),
        )
        for c in rows
    ]


def fingerprint(*lists: Sequence[ClientCode]) -> str:
    """What the tab shows, in short: the codes and their outcomes. A code can come and go
    between two polls (a purchase authorized at once), so the history counts too."""
    joined = ";".join(",".join(f"{c.id}:{c.status}" for c in rows) for rows in lists)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


async def _context(db: AsyncSession, client_id: uuid.UUID) -> dict[str, Any]:
    now = utcnow()
    pending = await codes.live_for(db, client_id, now)
    past = await codes.past_for(db, client_id, now)
    last4 = {card.id: card.last4 for card in await cards.list_for(db, client_id)}
    return {
        "pending": _views(pending, last4, now),
        "history": _views(past, last4, now),
        "seen": fingerprint(pending, past),
    }


@router.get("/3ds", response_class=HTMLResponse)
async def codes_page(request: Request, me: SignedIn, db: Session) -> HTMLResponse:
    context = {
        "tab": "3ds",
        "title": i18n.N_("Codes"),
        "banner": await web.banner_for(db, "3ds"),
        **await _context(db, me.id),
    }
    return web.render(request, "3ds/codes.html", context)


@router.get("/3ds/pending", response_class=HTMLResponse)
async def pending_fragment(request: Request, me: SignedIn, db: Session, seen: str = "") -> Response:
    """The pending block for htmx; 204 while it shows what the page already has. Opened
    without htmx (a shared link, no script), it is the whole tab."""
    if request.headers.get("HX-Request") != "true":
        return web.redirect(PAGE)
    context = await _context(db, me.id)
    if seen and seen == context["seen"]:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return web.render(request, "3ds/_fragment.html", {**context, "oob": True})
