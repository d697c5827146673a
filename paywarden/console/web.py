"""Console plumbing: templates, the HTML response with its CSP, sign-in state, CSRF, errors.

The console is the admin API's twin for browsers: it reads the same `admin_token` cookie,
calls the same services (so every action is audited the same way), and renders HTML.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from paywarden.audit.context import Actor
from paywarden.console import i18n
from paywarden.kit.errors import AppError, NotFound
from paywarden.kit.logging import get_logger
from paywarden.kit.pagination import Page as ResultPage
from paywarden.kit.pagination import PageQuery
from paywarden.kit.templating import page_templates
from paywarden.kit.web import DbRoute, Session, client_ip, user_agent
from paywarden.operators import service as operators
from paywarden.operators.errors import AdminTokenInvalid, AdminUnauthorized
from paywarden.operators.service import Principal
from paywarden.operators.tokens import COOKIE_NAME

log = get_logger(__name__)

PREFIX = "/admin"
LOGIN_PATH = f"{PREFIX}/login"
# Before sign-in there is no session to bind a CSRF token to: a random cookie stands in for it.
PRE_SESSION_COOKIE = "console_csrf"
CSRF_FIELD = "csrf_token"

templates = page_templates(Path(__file__).parent / "templates", i18n=True)
# The request's language (a context variable the route class sets): see console/i18n.py.
templates.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)
templates.filters["t"] = i18n.t  # `{{ notice | t }}`: a string from Python, translated, escaped
i18n.compile_catalogs()  # the .mo files, when missing or older than their .po


@dataclass(frozen=True)
class NavEntry:
    """One item of the console's menu, declared by the pages module that serves it (`NAV`)."""

    group: str  # "Cards", "Gateway" or "Administration"
    key: str  # what a page passes as `nav` to mark it current
    label: str
    path: str
    order: int = 0  # within the group
    roles: tuple[str, ...] | None = None  # None: every operator

    def allowed(self, me: Me) -> bool:
        return self.roles is None or me.role in self.roles


def usdt(value: str | None, asset: str = "USDT") -> str:
    """An API money string (`"3820.500000"`) with thousands separators: `3,820.500000 USDT`."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return value
    decimals = len(value.split(".", 1)[1]) if "." in value else 0
    if i18n.current_language() != "en":
        return f"{i18n.format_amount(amount, decimals)} {asset}".strip()
    return f"{amount:,.{decimals}f} {asset}".strip()


def when(value: str | None) -> Markup:
    """An ISO time in a <time> element; the page's script shows it in the browser's zone."""
    if not value:
        return Markup("—")
    shown = value[:19].replace("T", " ") + " UTC"
    if i18n.current_language() != "en":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC)
            shown = i18n.format_when(moment) + " UTC"
    return Markup('<time datetime="{0}">{1}</time>').format(value, shown)


templates.filters["usdt"] = usdt
templates.filters["when"] = when


class Page(AppError):
    """An HTML answer in place of an error: the DbRoute commits or rolls back as the original
    error said, then the console shows this page (e.g. the sign-in form with its error)."""

    def __init__(self, response: Response, *, keep_changes: bool = False) -> None:
        super().__init__("console page")
        self.response = response
        self.keep_changes = keep_changes


class CsrfRefused(AppError):
    status = 403
    code = "CSRF_REFUSED"
    message = i18n.N_(
        "This form has expired or did not come from this console. Reload the page and try again."
    )


SERVER_ERROR = i18n.N_(
    "Something failed on our side and nothing was changed. Try again; if it happens again, "
    "tell an administrator."
)


class ConsoleRoute(DbRoute):
    """A DbRoute whose errors become pages: sign-in redirects, 403/404 pages, form errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console(request: Request) -> Response:
            # The language before sign-in; _signed_in switches to the operator's saved choice.
            token = i18n.activate(language_of(request))
            try:
                return await _answer(request)
            finally:
                i18n.deactivate(token)

        async def _answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Page as page:
                return page.response
            except (AdminUnauthorized, AdminTokenInvalid):
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                where = LOGIN_PATH if request.method != "GET" else login_url(target)
                response = RedirectResponse(where, status_code=303)
                if request.cookies.get(COOKIE_NAME):
                    response.delete_cookie(COOKIE_NAME, path="/")
                return response
            except AppError as exc:
                return error_page(request, exc.status, exc.message, headers=exc.headers)
            except RequestValidationError:
                return error_page(request, 400, i18n.N_("The request was not understood."))
            except HTTPException:
                raise  # the framework's own answers (405, …) stay as they are
            except Exception:
                # The DbRoute has rolled back: nothing was changed. The log keeps the traceback.
                log.exception("console_error", path=request.url.path)
                return error_page(request, 500, SERVER_ERROR)

        return console


def console_router() -> APIRouter:
    """A pages module's router: under /admin, its errors as pages, out of the API schema."""
    return APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def language_of(request: Request, saved: str | None = None) -> str:
    """The operator's saved choice, else the switch's cookie, else Accept-Language, else en."""
    return i18n.pick_language(
        saved,
        request.cookies.get(i18n.LANGUAGE_COOKIE),
        accept=request.headers.get("accept-language"),
    )


def login_url(next_path: str | None = None) -> str:
    if next_path and next_path.startswith(PREFIX) and next_path != LOGIN_PATH:
        return f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"
    return LOGIN_PATH


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: only a console path, never another site."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return PREFIX


# Rendering


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    values: dict[str, Any] = {
        "nonce": nonce,
        "me": None,
        "csrf": "",
        "nav": "",
        "title": "",
        "prefix": PREFIX,
        "path": request.url.path,
    }
    me = getattr(request.state, "console_me", None)
    if me is not None:
        values["me"] = me
        values["csrf"] = _mac(request, "session", str(me.session_id))
    lang = language_of(request, me.language if me is not None else None)
    values["lang"] = lang
    values["languages"] = i18n.LANGUAGE_NAMES
    values.update(context or {})
    with i18n.language(lang):
        body = templates.get_template(template).render(**values)
    csp = (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    all_headers = {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        **(headers or {}),
    }
    return HTMLResponse(body, status_code=status_code, headers=all_headers)


def confirm_page(request: Request, nav: str, **context: Any) -> HTMLResponse:
    """The one "are you sure?" page before a POST action (templates/confirm.html): `title`,
    `question` (its placeholders from `params`), `detail`, `subject`, `action`, `button`,
    `cancel`; `stylesheet` for a section's own styles."""
    return render(request, "confirm.html", {"nav": nav, **context})


def form_page(
    request: Request,
    template: str,
    nav: str,
    title: str,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page with a form: what was typed (`values`) and what is wrong with it (`errors`, by
    field); a refused post renders it again with its status (400, 409)."""
    page = {"title": title, "nav": nav, "values": values, "errors": errors, **context}
    return render(request, template, page, status_code=status_code)


def error_page(
    request: Request, status: int, message: str, *, headers: dict[str, str] | None = None
) -> HTMLResponse:
    titles = {
        403: i18n.N_("Not allowed"),
        404: i18n.N_("Not found"),
        409: i18n.N_("Not possible now"),
        429: i18n.N_("Too many tries"),
    }
    title = titles.get(status, i18n.N_("Something went wrong"))
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "title": title},
        status_code=status,
        headers=headers,
    )


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# Who is signed in


@dataclass(frozen=True)
class Me:
    id: uuid.UUID
    email: str
    role: str
    is_primary: bool
    session_id: uuid.UUID
    language: str | None = None  # the console language the operator chose


async def _signed_in(request: Request, db: Session) -> Principal:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise AdminUnauthorized()
    principal = await operators.authenticate(db, request.app.state.auth, token)
    # Plain values for the layout: an error page renders after the session has rolled back.
    o = principal.operator
    request.state.console_me = Me(
        o.id, o.email, o.role, o.is_primary, principal.session.id, o.language
    )
    if o.language in i18n.LANGUAGES:
        i18n.activate(o.language)  # for this request (the route class restores the context)
    return principal


async def _maybe_signed_in(request: Request, db: Session) -> Principal | None:
    try:
        return await _signed_in(request, db)
    except (AdminUnauthorized, AdminTokenInvalid):
        return None


SignedIn = Annotated[Principal, Depends(_signed_in)]
MaybeSignedIn = Annotated[Principal | None, Depends(_maybe_signed_in)]


def actor_of(request: Request, principal: Principal) -> Actor:
    return principal.actor(client_ip(request), user_agent(request))


def anonymous(request: Request) -> Actor:
    return Actor("anonymous", None, client_ip(request), user_agent(request))


# CSRF: an HMAC of the session id (signed in), or of a random pre-session cookie (signing in)


def _mac(request: Request, purpose: str, value: str) -> str:
    key = request.app.state.auth.signing_key.encode()
    return hmac.new(key, f"console-csrf:{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request, principal: Principal) -> str:
    return _mac(request, "session", str(principal.session.id))


def pre_session_token(request: Request, cookie_value: str) -> str:
    return _mac(request, "login", cookie_value)


def new_pre_session_cookie() -> str:
    return secrets.token_urlsafe(24)


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def checked_form(request: Request, principal: Principal) -> dict[str, str]:
    """The posted form, once its CSRF token is this session's (compared in constant time)."""
    form = await form_of(request)
    given = form.get(CSRF_FIELD, "")
    if not given or not hmac.compare_digest(given, csrf_token(request, principal)):
        raise CsrfRefused()
    return form


async def checked_pre_session_form(request: Request) -> dict[str, str]:
    form = await form_of(request)
    cookie = request.cookies.get(PRE_SESSION_COOKIE, "")
    given = form.get(CSRF_FIELD, "")
    if (
        not cookie
        or not given
        or not hmac.compare_digest(given, pre_session_token(request, cookie))
    ):
        raise CsrfRefused()
    return form


def form_values(
    form: Mapping[str, str], keys: Iterable[str], *, raw: Iterable[str] = ()
) -> dict[str, str]:
    """The fields `keys` of a posted form, trimmed, and those in `raw` as typed; a missing one
    is empty, so a form rendered again shows back exactly what was sent."""
    values = {k: form.get(k, "").strip() for k in keys}
    values.update({k: form.get(k, "") for k in raw})
    return values


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A form's validation failure by field (its first message each), for the labels."""
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else "form"
        out.setdefault(field, str(err["msg"]).removeprefix("Value error, "))
    return out


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound() from None


# Date filters: a day in the form is a whole UTC day


def day_or_none(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, UTC) if day else None


def day_end(day: date | None) -> datetime | None:
    return (
        datetime.combine(day, time.min, UTC) + timedelta(days=1, microseconds=-1) if day else None
    )


@dataclass
class ListQuery:
    """A console list's query string: its filter values (kept in the URL), what was wrong with
    them, the from/to days and the page asked for (a bad page number means the first)."""

    path: str
    values: dict[str, str]
    errors: list[str]
    since: date | None
    until: date | None
    paging: PageQuery

    def uuid_of(self, key: str, unknown: str) -> uuid.UUID | None:
        if not self.values[key]:
            return None
        try:
            return uuid.UUID(self.values[key])
        except ValueError:
            self.errors.append(unknown)
            return None

    def window(self) -> dict[str, datetime | None]:
        """The from/to days as a filter's `since`/`until`: whole UTC days, both inclusive."""
        return {"since": day_start(self.since), "until": day_end(self.until)}

    def page_context(self, page: ResultPage[Any]) -> dict[str, Any]:
        """The template's pagination links and filter state for `page` of the results."""
        pagination = page.pagination()
        kept = {k: v for k, v in self.values.items() if v}

        def url(n: int) -> str:
            return f"{self.path}?" + urlencode({**kept, "page": n})

        return {
            "pagination": pagination,
            "prev_url": url(pagination.page - 1) if pagination.page > 1 else None,
            "next_url": url(pagination.page + 1)
            if pagination.page < pagination.total_pages
            else None,
            "values": self.values,
            "errors": self.errors,
            "filtered": bool(kept),
        }


def list_page(
    request: Request,
    template: str,
    lq: ListQuery,
    page: ResultPage[Any],
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A list page: `page` of the results with the list's filters and pager, and `context`."""
    values = {**context, **lq.page_context(page)}
    return render(request, template, values, status_code=status_code)


def list_query(request: Request, path: str, keys: tuple[str, ...], per_page: int) -> ListQuery:
    """Read a list page's filters (`keys`, with "from" and "to" as days) and page."""
    q = request.query_params
    values = {k: q.get(k, "").strip() for k in keys}
    errors: list[str] = []
    since, until = day_or_none(values.get("from", "")), day_or_none(values.get("to", ""))
    if values.get("from") and since is None:
        errors.append(i18n.N_("“From” must be a date."))
    if values.get("to") and until is None:
        errors.append(i18n.N_("“To” must be a date."))
    try:
        paging = PageQuery.model_validate({"page": q.get("page", "1"), "limit": per_page})
    except ValidationError:
        paging = PageQuery(page=1, limit=per_page)
    return ListQuery(path, values, errors, since, until, paging)
