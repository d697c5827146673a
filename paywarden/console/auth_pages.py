"""Signing in and out of the console, with the API's login service and its `admin_token` cookie."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from markupsafe import Markup

from paywarden.console import web
from paywarden.console.i18n import N_, ngettext
from paywarden.console.web import MaybeSignedIn, SignedIn
from paywarden.kit.errors import AppError, RateLimited
from paywarden.kit.web import Session
from paywarden.operators import service as operators
from paywarden.operators import totp
from paywarden.operators.cookies import clear_cookie, set_cookie
from paywarden.operators.errors import InvalidPassword, InvalidTotp, TotpRequired
from paywarden.operators.service import SetupRequired
from paywarden.operators.service import SignedIn as SignedInResult

router = web.console_router()

# What the sign-in page says for each refusal of the login service.
LOGIN_MESSAGES = {
    InvalidPassword.code: N_("Wrong email or password."),
    TotpRequired.code: N_("Enter the code from Google Authenticator (or a backup code)."),
    InvalidTotp.code: N_("That code is wrong or was already used. Enter the current code."),
}


def _retry_text(exc: AppError) -> str:
    seconds = exc.headers.get("Retry-After", "")
    if seconds.isdigit():
        minutes = max(1, (int(seconds) + 59) // 60)
        return ngettext(
            "Too many sign-in attempts. Try again in %(num)d minute.",
            "Too many sign-in attempts. Try again in %(num)d minutes.",
            minutes,
        ) % {"num": minutes}
    return N_("Too many sign-in attempts. Try again later.")


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    next_path: str = "",
    status_code: int = 200,
    notice: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    cookie = request.cookies.get(web.PRE_SESSION_COOKIE) or web.new_pre_session_cookie()
    response = web.render(
        request,
        "login.html",
        {
            "title": N_("Sign in"),
            "error": error,
            "notice": notice,
            "email": email,
            "next": next_path,
            "login_csrf": web.pre_session_token(request, cookie),
        },
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        web.PRE_SESSION_COOKIE,
        cookie,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.is_production,
    )
    return response


def _enroll_page(
    request: Request, setup: dict[str, str], *, error: str | None = None, status_code: int = 200
) -> Response:
    cookie = request.cookies.get(web.PRE_SESSION_COOKIE, "")
    secret = setup["otpauth_uri"].split("secret=", 1)[-1].split("&", 1)[0]
    context: dict[str, Any] = {
        "title": N_("Set up two-factor sign-in"),
        "error": error,
        "setup": setup,
        "secret": secret,
        # segno's SVG of the otpauth URI made on this server: no user markup in it.
        "qr_svg": Markup(totp.qr_svg(setup["otpauth_uri"])),  # noqa: S704
        "login_csrf": web.pre_session_token(request, cookie),
    }
    return web.render(request, "enroll.html", context, status_code=status_code)


@router.get("/login")
async def login_form(request: Request, me: MaybeSignedIn) -> Response:
    next_path = request.query_params.get("next", "")
    if me is not None:
        return web.redirect(web.safe_next(next_path))
    notice = N_("You are signed out.") if request.query_params.get("signed_out") else None
    return _login_page(request, next_path=next_path, notice=notice)


@router.post("/login")
async def login(request: Request, db: Session) -> Response:
    form = await web.checked_pre_session_form(request)
    email = form.get("email", "").strip()
    next_path = form.get("next", "")
    try:
        outcome = await operators.login(
            db,
            request.app.state.auth,
            email=email or None,
            password=form.get("password", ""),
            code=form.get("totp_code", "").strip() or None,
            actor=web.anonymous(request),
        )
    except RateLimited as exc:
        page = _login_page(
            request,
            error=_retry_text(exc),
            email=email,
            next_path=next_path,
            status_code=429,
            headers=exc.headers,
        )
        raise web.Page(page, keep_changes=True) from exc
    except AppError as exc:
        message = LOGIN_MESSAGES.get(exc.code, exc.message)
        page = _login_page(
            request, error=message, email=email, next_path=next_path, status_code=exc.status
        )
        raise web.Page(page, keep_changes=exc.keep_changes) from exc
    if isinstance(outcome, SetupRequired):
        setup = {
            "setup_token": outcome.setup_token,
            "otpauth_uri": outcome.otpauth_uri,
            "email": email,
        }
        return _enroll_page(request, setup)
    return _signed_in(request, outcome, next_path)


def _signed_in(request: Request, signed: SignedInResult, next_path: str) -> Response:
    response = web.redirect(web.safe_next(next_path))
    set_cookie(request, response, signed)
    response.delete_cookie(web.PRE_SESSION_COOKIE, path="/admin")
    return response


@router.post("/login/enroll")
async def enroll(request: Request, db: Session) -> Response:
    form = await web.checked_pre_session_form(request)
    setup = {
        "setup_token": form.get("setup_token", ""),
        "otpauth_uri": form.get("otpauth_uri", ""),
        "email": form.get("email", ""),
    }
    if not setup["otpauth_uri"].startswith("otpauth://"):
        raise web.Page(
            _login_page(request, error=N_("Sign in again to set up 2FA."), status_code=400)
        )
    try:
        signed = await operators.enroll(
            db,
            request.app.state.auth,
            setup_token=setup["setup_token"],
            code=form.get("totp_code", ""),
            actor=web.anonymous(request),
        )
    except RateLimited as exc:
        page = _login_page(request, error=_retry_text(exc), status_code=429, headers=exc.headers)
        raise web.Page(page, keep_changes=True) from exc
    except InvalidTotp as exc:
        page = _enroll_page(request, setup, error=LOGIN_MESSAGES[InvalidTotp.code], status_code=401)
        raise web.Page(page, keep_changes=True) from exc
    except AppError as exc:
        page = _login_page(request, error=exc.message, email=setup["email"], status_code=exc.status)
        raise web.Page(page, keep_changes=exc.keep_changes) from exc
    response = web.render(
        request,
        "backup_codes.html",
        {"title": N_("Your backup codes"), "codes": signed.backup_codes or []},
    )
    set_cookie(request, response, signed)
    response.delete_cookie(web.PRE_SESSION_COOKIE, path="/admin")
    return response


@router.post("/logout")
async def logout(request: Request, db: Session, me: SignedIn) -> Response:
    await web.checked_form(request, me)
    await operators.logout(db, me, web.actor_of(request, me))
    response = web.redirect(f"{web.LOGIN_PATH}?signed_out=1")
    clear_cookie(request, response)
    return response
