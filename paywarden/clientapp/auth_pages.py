"""Signing in to the client app: the Mini App's entry (`/app/`), and on the web sign-up, the
mailed link's page, sign-in and sign-out.

Inside Telegram the entry page's script reads the launch data (`#tgWebAppData=…` or
`Telegram.WebApp.initData`) and exchanges it once by `POST /api/botcartd/session` for the
`client_token` cookie; everything after that goes on with the cookie.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from paywarden.clientapp import web
from paywarden.clientapp.web import PREFIX, Page, SignedIn
from paywarden.clients import sessions
from paywarden.clients.auth import current_client
from paywarden.console import i18n
from paywarden.kit.errors import AppError
from paywarden.kit.web import Session, client_ip
from paywarden.web_users import service as web_users
from paywarden.web_users.errors import TokenInvalid
from paywarden.web_users.schemas import LoginIn, SignupIn
from paywarden.web_users.service import SESSION_TTL
from paywarden.web_users.tokens import COOKIE_NAME, cookie_options

router = web.app_router()

FORM_ERRORS = {
    "INVALID_CREDENTIALS": i18n.N_("The e-mail or the password is wrong."),
    "EMAIL_NOT_VERIFIED": i18n.N_(
        "Confirm your e-mail first: open the link we sent you (look in the spam folder too)."
    ),
    "ACCOUNT_DISABLED": i18n.N_("This account is disabled. Write to support."),
    "EMAIL_TAKEN": i18n.N_("This e-mail already has an account: sign in instead."),
    "EMAIL_UNAVAILABLE": i18n.N_("We cannot send e-mail right now. Try again in a few minutes."),
    "RATE_LIMITED": i18n.N_("Too many tries. Wait a few minutes and try again."),
}
LINK_ERRORS = {
    "TOKEN_INVALID": i18n.N_("This link is not valid. Copy the whole link from the e-mail."),
    "TOKEN_EXPIRED": i18n.N_("This link has expired. Sign up again to get a new one."),
    "ACCOUNT_DISABLED": FORM_ERRORS["ACCOUNT_DISABLED"],
}


def _signed_in_response(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        **cookie_options(request.app.state.settings.is_production),  # type: ignore[arg-type]
    )
    return response


def _form_page(
    request: Request,
    template: str,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    csrf, fresh = web.pre_session_token(request)
    page = {"values": values, "errors": errors, "csrf": csrf, **context}
    response = web.render(request, template, page, status_code=status_code)
    if fresh:
        response.set_cookie(
            web.PRE_SESSION_COOKIE,
            fresh,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.is_production,
            path=PREFIX,
        )
    return response


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else "form"
        out.setdefault(field, str(err["msg"]).removeprefix("Value error, "))
    return out


async def _maybe_client(request: Request, db: Session) -> bool:
    if not request.cookies.get(COOKIE_NAME):
        return False
    try:
        await current_client(request, db)
    except AppError:
        return False
    return True


@router.get("/", response_class=HTMLResponse)
async def entry(request: Request, db: Session) -> HTMLResponse:
    """The Mini App opens here: its script signs in with Telegram's launch data. In a
    browser: sign in or sign up (a signed-in client goes on to its wallet)."""
    signed_in = await _maybe_client(request, db)
    context = {
        "next": web.safe_next(request.query_params.get("next")),
        "signed_in": signed_in,
        "title": i18n.N_("Welcome"),
    }
    return web.render(request, "entry.html", context)


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request) -> HTMLResponse:
    return _form_page(request, "signup.html", {"email": ""}, {}, title=i18n.N_("Sign up"))


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, db: Session) -> HTMLResponse:
    form = await web.checked_pre_session_form(request)
    values = {"email": form.get("email", "").strip()}
    title = i18n.N_("Sign up")
    try:
        body = SignupIn.model_validate(
            {"email": values["email"], "password": form.get("password", "")}
        )
    except ValidationError as exc:
        return _form_page(
            request, "signup.html", values, _field_errors(exc), status_code=400, title=title
        )
    try:
        user = await web_users.signup(
            db, request.app.state.web_users, body.email, body.password, client_ip(request)
        )
    except AppError as exc:
        message = FORM_ERRORS.get(exc.code, exc.message)
        page = _form_page(
            request, "signup.html", values, {"form": message}, status_code=exc.status, title=title
        )
        raise Page(page) from exc
    return web.render(
        request, "signup_sent.html", {"email": user.email, "title": i18n.N_("Check your e-mail")}
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    next_path = web.safe_next(request.query_params.get("next"))
    return _form_page(
        request, "login.html", {"email": "", "next": next_path}, {}, title=i18n.N_("Sign in")
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, db: Session) -> Response:
    form = await web.checked_pre_session_form(request)
    values = {"email": form.get("email", "").strip(), "next": web.safe_next(form.get("next"))}
    title = i18n.N_("Sign in")
    try:
        body = LoginIn.model_validate(
            {"email": values["email"], "password": form.get("password", "")}
        )
    except ValidationError as exc:
        return _form_page(
            request, "login.html", values, _field_errors(exc), status_code=400, title=title
        )
    try:
        signed = await web_users.login(
            db, request.app.state.web_users, body.email, body.password, client_ip(request)
        )
    except AppError as exc:
        message = FORM_ERRORS.get(exc.code, exc.message)
        page = _form_page(
            request, "login.html", values, {"form": message}, status_code=exc.status, title=title
        )
        if exc.headers:
            page.headers.update(exc.headers)
        raise Page(page) from exc
    return _signed_in_response(request, web.redirect(values["next"]), signed.token)


@router.get("/verify", response_class=HTMLResponse)
async def verify(request: Request, db: Session) -> Response:
    """The mailed link: verifies the e-mail, signs in, and opens the wallet."""
    token = request.query_params.get("token", "")
    try:
        if not token or len(token) > 512:
            raise TokenInvalid()
        signed = await web_users.verify_and_sign_in(db, request.app.state.web_users, token)
    except AppError as exc:
        message = LINK_ERRORS.get(exc.code, exc.message)
        raise Page(web.error_page(request, exc.status, message)) from exc
    return _signed_in_response(request, web.redirect(f"{PREFIX}/main?welcome=1"), signed.token)


@router.get("/logout", response_class=HTMLResponse)
async def logout_form(request: Request, me: SignedIn) -> HTMLResponse:
    return web.render(request, "logout.html", {"title": i18n.N_("Sign out")})


@router.post("/logout")
async def logout(request: Request, me: SignedIn, db: Session) -> Response:
    """Ends this session (a Mini App one or a web sign-in) and clears the cookie."""
    await web.checked_form(request, me)
    token = request.cookies.get(COOKIE_NAME)
    key = request.app.state.web_users.signing_key
    if token and sessions.is_miniapp_token(key, token):
        await sessions.close_session(db, key, token)
    else:
        await web_users.logout(db, request.app.state.web_users, token)
    response = web.redirect(f"{PREFIX}/login" if me.via == "web" else f"{PREFIX}/")
    response.delete_cookie(COOKIE_NAME, **cookie_options(request.app.state.settings.is_production))  # type: ignore[arg-type]
    return response
