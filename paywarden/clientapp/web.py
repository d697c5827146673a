"""Client app plumbing: templates, the HTML answer with its CSP, who is signed in, CSRF, the
language, errors as pages, the tab's banner.

The client app is the client API's twin for a phone: it reads the same `client_token` cookie
(a Mini App session or a web sign-in, clients/auth.py), calls the same services, and renders
HTML that works without JavaScript; htmx (from its registry package) and the app's own small
script add live updates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from paywarden.banners import service as banners
from paywarden.banners.schemas import ClientBannerOut
from paywarden.clients import service as clients
from paywarden.clients.auth import Caller, current_client
from paywarden.clients.errors import ClientUnauthorized, InitDataExpired, InitDataInvalid
from paywarden.console import i18n
from paywarden.kit.errors import AppError, NotFound
from paywarden.kit.logging import get_logger
from paywarden.kit.templating import page_templates
from paywarden.kit.web import DbRoute, Session
from paywarden.models.clients import BANNED
from paywarden.plans.amounts import format_bps, format_rate
from paywarden.web_users.errors import ClientUnauthorized as WebUnauthorized
from paywarden.web_users.tokens import COOKIE_NAME

log = get_logger(__name__)

PREFIX = "/app"
ENTRY_PATH = f"{PREFIX}/"
TABS = ("main", "card", "3ds", "tx", "profile")
TAB_LABELS = {
    "main": i18n.N_("Wallet"),
    "card": i18n.N_("Cards"),
    "3ds": i18n.N_("Codes"),
    "tx": i18n.N_("History"),
    "profile": i18n.N_("Profile"),
}
CSRF_FIELD = "csrf_token"
# Before sign-in there is no session to bind a CSRF token to: a random cookie stands in for it.
PRE_SESSION_COOKIE = "app_csrf"
LANGUAGE_COOKIE = "app_lang"
# Telegram's own script, loaded from Telegram in production only (never vendored; the app
# works without it, and tests have no internet).
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
# Telegram's web client shows a Mini App in a frame of its own origin.
FRAME_ANCESTORS = "https://web.telegram.org"

templates = page_templates(Path(__file__).parent / "templates", i18n=True)
# One set of catalogs for the console and the client app (console/i18n.py, `make i18n`).
templates.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)
templates.filters["t"] = i18n.t
i18n.compile_catalogs()

DECIMALS = {"USDT": 6, "EUR": 2, "USD": 2}


def money(value: str | int | Decimal | None, currency: str) -> str:
    """An amount with its currency in the page's language: `1,250.50 EUR`, ru `1 250,50 EUR`.
    A string or Decimal is in major units (the API's `"12.50"`); an int is in minor units."""
    if value is None or value == "":
        return "—"
    decimals = DECIMALS.get(currency, 2)
    try:
        amount = Decimal(value).scaleb(-decimals) if isinstance(value, int) else Decimal(str(value))
    except InvalidOperation:
        return f"{value} {currency}"
    if i18n.current_language() == "en":
        return f"{amount:,.{decimals}f} {currency}"
    return f"{i18n.format_amount(amount, decimals)} {currency}"


def when(value: datetime | str | None) -> Markup:
    """A moment in a <time> element (UTC; the app's script shows it in the phone's zone)."""
    if not value:
        return Markup("—")
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    shown = (
        moment.strftime("%d %b %Y, %H:%M")
        if i18n.current_language() == "en"
        else i18n.format_when(moment)
    )
    return Markup('<time datetime="{0}">{1} UTC</time>').format(iso, shown)


def _decimal_mark(number: str) -> str:
    return number if i18n.current_language() == "en" else number.replace(".", ",")


def percent(bps: int) -> str:
    """Basis points as the language writes a percent: `1.5 %`, ru `1,5 %`."""
    return f"{_decimal_mark(format_bps(bps))} %"


def rate(micros: int) -> str:
    """The operators' EUR/USD rate as the language writes it: `1.0850`, ru `1,0850`."""
    return _decimal_mark(format_rate(micros))


templates.filters["money"] = money
templates.filters["when"] = when


# Who is signed in


@dataclass(frozen=True)
class Me:
    """The signed-in client as plain values: an error page renders after a rollback."""

    id: uuid.UUID
    external_user_id: str
    display_name: str | None
    banned: bool
    via: str  # "telegram" or "web"
    language: str  # the page's language
    csrf: str


def _mac(request: Request, purpose: str, value: str) -> str:
    key = request.app.state.web_users.signing_key.encode()
    return hmac.new(key, f"clientapp-csrf:{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _csrf_for(request: Request, client_id: uuid.UUID) -> str:
    # Bound to the cookie (a session's token): another session's pages never post here.
    return _mac(request, str(client_id), request.cookies.get(COOKIE_NAME, ""))


def _telegram_language(value: str | None) -> str | None:
    return value.split("-", 1)[0].lower() if value else None


def language_of(request: Request, *saved: str | None) -> str:
    """`?lang=` for this page, else the client's saved choice, else its Telegram language,
    else the pre-sign-in cookie, else Accept-Language, else English."""
    return i18n.pick_language(
        request.query_params.get("lang"),
        *saved,
        request.cookies.get(LANGUAGE_COOKIE),
        accept=request.headers.get("accept-language"),
    )


async def _signed_in(request: Request, db: Session) -> Me:
    if request.headers.get("X-Bot-Token") is not None:
        raise ClientUnauthorized()  # the bot's backend calls the API, never these pages
    caller: Caller = await current_client(request, db)
    client = caller.client
    lang = language_of(request, client.app_language, _telegram_language(client.language))
    me = Me(
        id=client.id,
        external_user_id=client.external_user_id,
        display_name=client.display_name,
        banned=client.status == BANNED,
        via=caller.via,
        language=lang,
        csrf=_csrf_for(request, client.id),
    )
    request.state.app_me = me
    request.state.app_caller = caller
    i18n.activate(lang)  # for this request (the route class restores the context)
    return me


SignedIn = Annotated[Me, Depends(_signed_in)]


def caller_of(request: Request) -> Caller:
    """The signed-in caller (its live Client row) of a page that depends on SignedIn."""
    caller: Caller = request.state.app_caller
    return caller


def changing_client(request: Request) -> Any:
    """The client of a changing action: 403 CLIENT_BANNED for a banned one (read-only)."""
    return clients.ensure_can_change(caller_of(request).client)


# CSRF


class CsrfRefused(AppError):
    status = 403
    code = "CSRF_REFUSED"
    message = i18n.N_("This form has expired. Go back, reload the page and try again.")


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def checked_form(request: Request, me: Me) -> dict[str, str]:
    """The posted form, once its CSRF token is this session's (compared in constant time)."""
    form = await form_of(request)
    given = form.get(CSRF_FIELD, "")
    if not given or not hmac.compare_digest(given, me.csrf):
        raise CsrfRefused()
    return form


def pre_session_token(request: Request) -> tuple[str, str | None]:
    """The sign-in forms' CSRF token, and the cookie to set when there was none."""
    cookie = request.cookies.get(PRE_SESSION_COOKIE)
    fresh = None
    if not cookie:
        cookie = fresh = secrets.token_urlsafe(24)
    return _mac(request, "pre-session", cookie), fresh


async def checked_pre_session_form(request: Request) -> dict[str, str]:
    form = await form_of(request)
    cookie = request.cookies.get(PRE_SESSION_COOKIE, "")
    given = form.get(CSRF_FIELD, "")
    if (
        not cookie
        or not given
        or not hmac.compare_digest(given, _mac(request, "pre-session", cookie))
    ):
        raise CsrfRefused()
    return form


def idempotency_key() -> str:
    """A fresh key for a paying form: the same form posted twice pays once."""
    return str(uuid.uuid4())


# The tab's banner


async def banner_for(db: AsyncSession, tab: str) -> ClientBannerOut | None:
    """The tab's newest active partner ad (16:5), its links relative to this site."""
    shown = await banners.list_active(db, tab)
    return ClientBannerOut.of(shown[0], "") if shown else None


# Rendering


def csp(nonce: str, *, production: bool) -> str:
    telegram = " https://telegram.org" if production else ""
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'{telegram}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; "
        f"frame-ancestors 'self' {FRAME_ANCESTORS}"
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    me: Me | None = getattr(request.state, "app_me", None)
    lang = me.language if me is not None else language_of(request)
    production = request.app.state.settings.is_production
    values: dict[str, Any] = {
        "nonce": nonce,
        "me": me,
        "csrf": me.csrf if me else "",
        "tab": "",
        "title": "",
        "banner": None,
        "prefix": PREFIX,
        "path": request.url.path,
        "lang": lang,
        "languages": i18n.LANGUAGE_NAMES,
        "tabs": [(t, TAB_LABELS[t]) for t in TABS],
        "telegram_script": TELEGRAM_SCRIPT if production else None,
        "fragment": request.headers.get("HX-Request") == "true",
        **(context or {}),
    }
    with i18n.language(lang):
        body = templates.get_template(template).render(**values)
    all_headers = {
        "Content-Security-Policy": csp(nonce, production=production),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Vary": "Cookie, HX-Request",
        **(headers or {}),
    }
    return HTMLResponse(body, status_code=status_code, headers=all_headers)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def entry_url(next_path: str | None = None) -> str:
    if next_path and next_path.startswith(PREFIX + "/") and next_path != ENTRY_PATH:
        return f"{ENTRY_PATH}?next={quote(next_path, safe='/')}"
    return ENTRY_PATH


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a client app path, never another site."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return f"{PREFIX}/main"


class Page(AppError):
    """An HTML answer in place of an error (a form shown again with what is wrong): the DbRoute
    rolls back, then the app shows this page."""

    def __init__(self, response: Response) -> None:
        super().__init__("client app page")
        self.response = response


SERVER_ERROR = i18n.N_(
    "Something failed on our side and nothing was changed. Try again in a minute; if it "
    "happens again, write to support."
)
ERROR_TITLES = {
    400: i18n.N_("Please check"),
    402: i18n.N_("Not enough money"),
    403: i18n.N_("Not allowed"),
    404: i18n.N_("Not found"),
    409: i18n.N_("Not possible now"),
    429: i18n.N_("Too many tries"),
    502: i18n.N_("The card service is not answering"),
    503: i18n.N_("Busy, try again"),
}


# The API's refusals in plain words, by code; a page module may pass its own for a code whose
# meaning depends on the action (`refusal`).
PLAIN_ERRORS = {
    "CLIENT_BANNED": i18n.N_(
        "Your account is blocked, so nothing can be changed. Write to support to find out why."
    ),
    "INSUFFICIENT_FUNDS": i18n.N_(
        "Your available balance is too low for this. Top up your wallet or convert, then try again."
    ),
    "FX_RATE_NOT_SET": i18n.N_(
        "Euro and dollar cannot be exchanged right now. Try again later or write to support."
    ),
    "CARDS_DISABLED": i18n.N_("Cards cannot be issued right now. Try again later."),
    "SUBSCRIPTION_INACTIVE": i18n.N_(
        "Your plan is not paid for this month. Top up your wallet: the plan renews by itself."
    ),
    "CARD_LIMIT_REACHED": i18n.N_(
        "You have as many cards as your plan allows. Close one or change your plan."
    ),
    "ISSUER_UNAVAILABLE": i18n.N_(
        "The card service is not answering. Nothing was charged; try again in a few minutes."
    ),
    "ISSUER_ERROR": i18n.N_(
        "The card service refused this. Nothing was charged; write to support if it happens again."
    ),
    "IDEMPOTENCY_KEY_REUSED": i18n.N_(
        "This form was already sent with other figures. Open the page again and start over."
    ),
    "RATE_LIMITED": i18n.N_("Too many tries. Wait a few minutes and try again."),
    "SERVICE_BUSY": i18n.N_("We are busy right now. Try again in a few seconds."),
    "NOT_FOUND": i18n.N_("We could not find this. It may belong to another account or be gone."),
    "VALIDATION_ERROR": i18n.N_("Please check what you entered."),
}


def refusal(
    request: Request,
    exc: AppError,
    plain: Mapping[str, str] | None = None,
    *,
    back: str | None = None,
) -> Page:
    """An error page for a refused action, in plain words (`plain`, then PLAIN_ERRORS, then
    the error's own message), its "Back" leading to `back` (default: the wallet):
    `raise web.refusal(request, exc) from exc`."""
    message = (plain or {}).get(exc.code) or PLAIN_ERRORS.get(exc.code) or exc.message
    return Page(error_page(request, exc.status, message, headers=exc.headers, back=back))


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    back: str | None = None,
) -> HTMLResponse:
    title = ERROR_TITLES.get(status, i18n.N_("Something went wrong"))
    tab = back.removeprefix(PREFIX + "/") if back else ""
    context = {"status": status, "message": message, "title": title, "back": back, "tab": tab}
    return render(request, "error.html", context, status_code=status, headers=headers)


class AppRoute(DbRoute):
    """A DbRoute whose errors become pages: the sign-in entry, 403/404 pages, form errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            token = i18n.activate(language_of(request))
            try:
                return await _answer(request)
            finally:
                i18n.deactivate(token)

        async def _answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Page as shown:
                return shown.response
            except (ClientUnauthorized, WebUnauthorized, InitDataInvalid, InitDataExpired):
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                where = entry_url(target if request.method == "GET" else None)
                response: Response = redirect(where)
                if request.headers.get("HX-Request") == "true":
                    # htmx follows a redirect inside the fragment; a full reload signs in.
                    response = Response(status_code=204, headers={"HX-Redirect": where})
                if request.cookies.get(COOKIE_NAME):
                    response.delete_cookie(COOKIE_NAME, path="/")
                return response
            except AppError as exc:
                return refusal(request, exc).response
            except RequestValidationError:
                return error_page(request, 400, i18n.N_("The request was not understood."))
            except HTTPException:
                raise
            except Exception:
                log.exception("clientapp_error", path=request.url.path)
                return error_page(request, 500, SERVER_ERROR)

        return page


def app_router() -> APIRouter:
    """A pages module's router: under /app, its errors as pages, out of the API schema."""
    return APIRouter(prefix=PREFIX, route_class=AppRoute, include_in_schema=False)


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound() from None
