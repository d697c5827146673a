"""Operator pages: sessions, the audit log, changing one's password, and managing operators."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.audit.filters import AuditFilter
from paywarden.audit.schemas import AuditEntryOut
from paywarden.console import i18n, web
from paywarden.console.i18n import N_, _, ngettext
from paywarden.console.web import SignedIn
from paywarden.kit.errors import NotFound
from paywarden.kit.web import Session
from paywarden.operators import service as operators
from paywarden.operators.cookies import clear_cookie
from paywarden.operators.errors import InvalidPassword, OperatorEmailTaken
from paywarden.operators.schemas import (
    OperatorCreateIn,
    OperatorOut,
    PasswordChangeIn,
    SessionOut,
)

router = web.console_router()

ConfirmTexts = tuple[str, str, str, str]
OperatorStep = Callable[[Session, uuid.UUID, Actor], Awaitable[Any]]

NAV = [
    web.NavEntry(
        "Administration",
        "operators",
        N_("Operators"),
        f"{web.PREFIX}/operators",
        0,
        ("super_admin",),
    ),
    web.NavEntry("Administration", "sessions", N_("Sessions"), f"{web.PREFIX}/sessions", 1),
    web.NavEntry("Administration", "audit", N_("Audit log"), f"{web.PREFIX}/audit", 2),
    web.NavEntry("Administration", "password", N_("Change password"), f"{web.PREFIX}/password", 3),
]

# The actions the services write, offered as suggestions in the audit log's filter.
KNOWN_ACTIONS = [
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.totp_enroll",
    "auth.password_change",
    "auth.password_change_failed",
    "session.revoke",
    "operator.create",
    "operator.delete",
    "operator.reset_2fa",
    "merchant.create",
    "merchant.update",
    "merchant.suspend",
    "merchant.reactivate",
    "merchant.rotate_api_key",
    "order.retry_webhook",
    "order.retry_sweep",
]


# Sessions


@router.get("/sessions")
async def sessions(request: Request, db: Session, me: SignedIn) -> Response:
    rows = await operators.list_sessions(db, me)
    items = [SessionOut.of(s, email, me.session.id) for s, email in rows]
    notice = (
        N_("The session is revoked.") if request.query_params.get("done") == "revoked" else None
    )
    return web.render(
        request,
        "sessions.html",
        {"title": N_("Sessions"), "nav": "sessions", "sessions": items, "notice": notice},
    )


@router.get("/sessions/{session_id}/revoke")
async def revoke_confirm(session_id: str, request: Request, me: SignedIn) -> Response:
    sid = web.parse_id(session_id)
    yours = sid == me.session.id
    return web.confirm_page(
        request,
        "sessions",
        title=N_("Revoke this session?"),
        question=N_("Revoke this session? Whoever uses it is signed out at once."),
        detail=N_("It is the session you are using now: you will be signed out.") if yours else "",
        action=f"/admin/sessions/{sid}/revoke",
        button=N_("Revoke"),
        cancel="/admin/sessions",
    )


@router.post("/sessions/{session_id}/revoke")
async def revoke(session_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    await web.checked_form(request, me)
    sid = web.parse_id(session_id)
    await operators.revoke_session(db, me, sid, web.actor_of(request, me))
    if sid == me.session.id:
        response = web.redirect(f"{web.LOGIN_PATH}?signed_out=1")
        clear_cookie(request, response)
        return response
    return web.redirect("/admin/sessions?done=revoked")


# Audit log


@router.get("/audit")
async def audit_log(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(request, "/admin/audit", ("operator_id", "action", "from", "to"), 50)
    f = AuditFilter(
        operator_id=lq.uuid_of("operator_id", N_("Unknown operator.")),
        action=lq.values["action"][:64] or None,
        **lq.window(),
    )
    page = await audit.search(db, f, lq.paging)

    return web.list_page(
        request,
        "audit.html",
        lq,
        page,
        {
            "title": N_("Audit log"),
            "nav": "audit",
            "entries": [AuditEntryOut.of(e) for e in page.items],
            "operators": await operators.list_operators(db),
            "actions": KNOWN_ACTIONS,
        },
    )


# Change password


def _password_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status_code: int = 200
) -> Response:
    return web.render(
        request,
        "password.html",
        {"title": N_("Change password"), "nav": "password", "error": error, "notice": notice},
        status_code=status_code,
    )


@router.get("/password")
async def password_form(request: Request, me: SignedIn) -> Response:
    return _password_page(request)


@router.post("/password")
async def change_password(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        raise web.Page(
            _password_page(request, error=N_("The new passwords differ."), status_code=400)
        )
    try:
        body = PasswordChangeIn.model_validate(
            {"current_password": form.get("current_password", ""), "new_password": new}
        )
    except ValidationError as exc:
        page = _password_page(
            request, error=N_("The new password needs at least 12 characters."), status_code=400
        )
        raise web.Page(page) from exc
    try:
        ended = await operators.change_password(
            db,
            request.app.state.auth,
            me,
            current=body.current_password,
            new=body.new_password,
            actor=web.actor_of(request, me),
        )
    except InvalidPassword as exc:
        page = _password_page(request, error=N_("The current password is wrong."), status_code=401)
        raise web.Page(page, keep_changes=True) from exc
    notice = _("Your password is changed.")
    if ended:
        others = ngettext("%(num)d other session ended.", "%(num)d other sessions ended.", ended)
        notice += " " + others % {"num": ended}
    return _password_page(request, notice=notice)


# Operators (super_admin reads; the primary adds, removes and resets 2FA, as the API says)

OPERATOR_NOTICES = {
    "created": N_("The operator is added. They set up 2FA at their first sign-in."),
    "removed": N_("The operator is removed and signed out."),
    "reset": N_("2FA is cleared: they set it up again at their next sign-in, and are signed out."),
}


def _operators_page(
    request: Request,
    rows: list[OperatorOut],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return web.render(
        request,
        "operators.html",
        {
            "title": N_("Operators"),
            "nav": "operators",
            "operators": rows,
            "values": values or {"role": "operator"},
            "errors": errors or {},
            "notice": OPERATOR_NOTICES.get(request.query_params.get("done", "")),
        },
        status_code=status_code,
    )


async def _operator_rows(db: Session) -> list[OperatorOut]:
    return [OperatorOut.of(o) for o in await operators.list_operators(db)]


@router.get("/operators")
async def operator_list(request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    return _operators_page(request, await _operator_rows(db))


@router.post("/operators")
async def operator_create(request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_primary(me)
    form = await web.checked_form(request, me)
    values = {"email": form.get("email", "").strip(), "role": form.get("role", "operator")}
    try:
        body = OperatorCreateIn.model_validate({**values, "password": form.get("password", "")})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "form"
            errors.setdefault(field, str(err["msg"]).removeprefix("value is not a valid email "))
        page = _operators_page(
            request, await _operator_rows(db), values=values, errors=errors, status_code=400
        )
        raise web.Page(page) from exc
    try:
        await operators.create_operator(
            db,
            email=body.email,
            password=body.password,
            role=body.role,
            actor=web.actor_of(request, me),
        )
    except OperatorEmailTaken as exc:
        page = _operators_page(
            request,
            await _operator_rows(db),
            values=values,
            errors={"email": exc.message},
            status_code=409,
        )
        raise web.Page(page) from exc
    return web.redirect("/admin/operators?done=created")


async def _operator(db: Session, operator_id: str) -> OperatorOut:
    for row in await _operator_rows(db):
        if row.id == web.parse_id(operator_id):
            return row
    raise NotFound(N_("Operator not found"))


def _operator_step(step: str, texts: ConfirmTexts, run: OperatorStep, done: str) -> None:
    """Register a primary-only step on another operator at /operators/{id}/{step}: its confirm
    page (GET; `texts` are its title and question, both with the operator's email, its detail
    and button) and the step itself (POST), back on the operators page with `done`."""

    async def ask(operator_id: str, request: Request, db: Session, me: SignedIn) -> Response:
        operators.require_primary(me)
        o = await _operator(db, operator_id)
        title, question, detail, button = texts
        return web.confirm_page(
            request,
            "operators",
            title=_(title, email=o.email),
            question=_(question, email=o.email),
            detail=detail,
            action=f"/admin/operators/{o.id}/{step}",
            button=button,
            cancel="/admin/operators",
        )

    async def act(operator_id: str, request: Request, db: Session, me: SignedIn) -> Response:
        operators.require_primary(me)
        await web.checked_form(request, me)
        await run(db, web.parse_id(operator_id), web.actor_of(request, me))
        return web.redirect(f"/admin/operators?done={done}")

    path = f"/operators/{{operator_id}}/{step}"
    router.get(path, name=f"operator_{step}_confirm")(ask)
    router.post(path, name=f"operator_{step}")(act)


_operator_step(
    "remove",
    (
        N_("Remove %(email)s?"),
        N_("Remove %(email)s? They are signed out at once and can no longer sign in."),
        N_("Their entries stay in the audit log."),
        N_("Remove"),
    ),
    operators.delete_operator,
    "removed",
)
_operator_step(
    "reset-2fa",
    (
        N_("Reset 2FA of %(email)s?"),
        N_(
            "Clear the 2FA of %(email)s? Their backup codes stop working and their "
            "sessions end; they scan a new QR code at their next sign-in."
        ),
        "",
        N_("Reset 2FA"),
    ),
    operators.reset_2fa,
    "reset",
)


# The console's language (the switch in the header)


@router.post("/language")
async def set_language(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    lang = form.get("lang", "")
    if lang not in i18n.LANGUAGES:
        raise web.Page(web.error_page(request, 400, N_("Unknown language."), headers=None))
    if me.operator.language != lang:
        await operators.set_language(db, me, lang, web.actor_of(request, me))
    response = web.redirect(web.safe_next(form.get("next", "")))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        lang,
        path=web.PREFIX,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.is_production,
    )
    return response
