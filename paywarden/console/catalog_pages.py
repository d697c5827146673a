"""Cards catalog pages: plans (with the home catalog preview and the EUR/USD rate), partner-ad
banners per client tab, and the support settings — on the same services as the admin API, with
the same role checks (any operator reads; prices and the rate are the super_admin's)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from paywarden.banners import service as banners
from paywarden.banners.errors import BannerNotFound, ImageTooLarge, InvalidImage
from paywarden.banners.schemas import BannerCreateIn, BannerOut, BannerUpdateIn, image_url
from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.kit.bodylimit import BodyLimitMiddleware
from paywarden.kit.errors import AppError, ValidationFailed
from paywarden.kit.pagination import Page as ResultPage
from paywarden.kit.time import iso
from paywarden.kit.web import Session
from paywarden.models.banners import PAGES
from paywarden.operators import service as operators
from paywarden.operators.service import Principal
from paywarden.plans import service as plans
from paywarden.plans.amounts import format_rate
from paywarden.plans.errors import (
    ArchivedPlanDefault,
    DefaultPlanArchived,
    EmptyUpdate,
    PlanNameTaken,
)
from paywarden.plans.schemas import FxRateIn, FxRateOut, PlanCreateIn, PlanOut, PlanUpdateIn
from paywarden.support import service as support
from paywarden.support.schemas import SupportSettingsIn, SupportSettingsOut

router = web.console_router()

# Any operator reads plans, banners and support settings (as the API lets them).
NAV = [
    web.NavEntry("Cards", "plans", N_("Plans"), f"{web.PREFIX}/plans", 2),
    web.NavEntry("Cards", "banners", N_("Banners"), f"{web.PREFIX}/banners", 3),
    web.NavEntry("Cards", "support", N_("Support"), f"{web.PREFIX}/support", 4),
]

BannerIn = TypeVar("BannerIn", bound=BaseModel)

FX_PER_PAGE = 10
BANNERS_PER_PAGE = 10


def _is_super(me: Principal) -> bool:
    return me.operator.role == "super_admin"


# Plans

PLAN_TEXT = (
    "name",
    "bullets",
    "monthly_fee",
    "card_issue_fee",
    "cards_included",
    "max_active_cards",
    "topup_fee_percent",
    "fx_fee_percent",
    "sort_order",
)
PLAN_FLAGS = ("hidden_from_home", "is_default")

DEFAULT_ARCHIVED = N_("The default plan cannot be archived: make another plan the default first.")
ARCHIVED_DEFAULT = N_("An archived plan cannot be the default: bring it back first.")
MAX_BELOW_INCLUDED = N_("Max active cards must be at least the cards included.")

PLAN_NOTICES = {
    "created": N_("The plan is created."),
    "updated": N_("The plan is saved."),
    "unchanged": N_("Nothing changed."),
    "default": N_("The plan is now the default: new clients get it."),
    "archived": N_("The plan is archived: its subscribers keep it, nobody new can pick it."),
    "unarchived": N_("The plan is back in use."),
    "rate": N_("The EUR/USD rate is saved."),
}


async def _plans_page(
    request: Request,
    db: Session,
    me: SignedIn,
    *,
    rate_value: str = "",
    rate_error: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lq = web.list_query(request, f"{web.PREFIX}/plans", (), FX_PER_PAGE)
    every = [PlanOut.of(p) for p in await plans.list_all(db)]
    catalog = [PlanOut.of(p) for p in await plans.home_catalog(db)]
    history = await plans.rate_history(db, lq.paging)
    rates = [
        {"eur_usd": format_rate(r.eur_usd_micros), "set_at": iso(r.set_at), "set_by": r.set_by}
        for r in history.items
    ]
    current = FxRateOut.of(await plans.rate(db))
    return web.list_page(
        request,
        "catalog/plans.html",
        lq,
        history,
        {
            "title": N_("Plans"),
            "nav": "plans",
            "plans": every,
            "catalog": catalog,
            "rate": current,
            "rates": rates,
            "can_edit": _is_super(me),
            "rate_value": rate_value,
            "rate_error": rate_error,
            "error": error,
            "notice": PLAN_NOTICES.get(request.query_params.get("done", "")),
        },
        status_code=status_code,
    )


@router.get("/plans")
async def plan_list(request: Request, db: Session, me: SignedIn) -> Response:
    return await _plans_page(request, db, me)


def _plan_form(
    request: Request,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    plan: PlanOut | None = None,
    status_code: int = 200,
) -> Response:
    title = N_("Edit plan") if plan else N_("New plan")
    template = "catalog/plan_form.html"
    return web.form_page(request, template, "plans", title, values, errors, status_code, plan=plan)


def _plan_values(form: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in PLAN_TEXT}
    values["bullets"] = form.get("bullets", "").replace("\r\n", "\n").strip()
    for flag in PLAN_FLAGS:
        values[flag] = form.get(flag) in ("on", "true", "1")
    return values


def _plan_conflict(exc: AppError) -> dict[str, str]:
    """The form's error for a refusal of the service (messages shown through gettext)."""
    if isinstance(exc, PlanNameTaken):
        return {"name": N_("Another plan already has this name.")}
    return {"is_default": _refusal(exc)}


def _refusal(exc: AppError) -> str:
    if isinstance(exc, DefaultPlanArchived):
        return DEFAULT_ARCHIVED
    return ARCHIVED_DEFAULT


@router.get("/plans/new")
async def plan_new(request: Request, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    values = {
        "monthly_fee": "0.00",
        "card_issue_fee": "0.00",
        "cards_included": "1",
        "max_active_cards": "1",
        "topup_fee_percent": "0",
        "fx_fee_percent": "0",
        "sort_order": "0",
    }
    return _plan_form(request, values=values, errors={})


@router.post("/plans/new")
async def plan_create(request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    return await _save_plan(request, db, me, await web.checked_form(request, me), None)


async def _save_plan(
    request: Request, db: Session, me: Principal, form: dict[str, str], plan: PlanOut | None
) -> Response:
    """Create a plan (no `plan`) or save its edit; the form again with its errors if refused."""
    values = _plan_values(form)

    def again(errors: dict[str, str], status_code: int) -> web.Page:
        page = _plan_form(request, values=values, errors=errors, plan=plan, status_code=status_code)
        return web.Page(page)

    try:
        body = (PlanUpdateIn if plan else PlanCreateIn).model_validate(values)
    except ValidationError as exc:
        raise again(web.field_errors(exc), 400) from exc
    actor = web.actor_of(request, me)
    try:
        if plan is None:
            await plans.create(db, body.columns(), actor)
        else:
            await plans.update(db, plan.id, body.columns(), actor)
    except (PlanNameTaken, DefaultPlanArchived, ArchivedPlanDefault) as exc:
        raise again(_plan_conflict(exc), 409) from exc
    except EmptyUpdate:
        return web.redirect(f"{web.PREFIX}/plans?done=unchanged")
    except ValidationFailed as exc:  # max_active_cards below cards_included
        raise again({"max_active_cards": MAX_BELOW_INCLUDED}, 400) from exc
    return web.redirect(f"{web.PREFIX}/plans?done={'updated' if plan else 'created'}")


@router.get("/plans/{plan_id}/edit")
async def plan_edit(plan_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    plan = PlanOut.of(await plans.get(db, web.parse_id(plan_id)))
    values: dict[str, Any] = {k: getattr(plan, k) for k in PLAN_TEXT}
    values.update({k: getattr(plan, k) for k in PLAN_FLAGS})
    return _plan_form(request, values=values, errors={}, plan=plan)


@router.post("/plans/{plan_id}/edit")
async def plan_update(plan_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    form = await web.checked_form(request, me)
    plan = PlanOut.of(await plans.get(db, web.parse_id(plan_id)))
    return await _save_plan(request, db, me, form, plan)


async def _plan_flag(
    request: Request, db: Session, me: SignedIn, plan_id: str, changes: dict[str, bool]
) -> str | None:
    """Apply one flag change; the plans page's error when the service refuses it."""
    operators.require_super_admin(me)
    await web.checked_form(request, me)
    try:
        await plans.update(db, web.parse_id(plan_id), changes, web.actor_of(request, me))
    except (DefaultPlanArchived, ArchivedPlanDefault) as exc:
        return _refusal(exc)
    return None


@router.post("/plans/{plan_id}/default")
async def plan_make_default(plan_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    error = await _plan_flag(request, db, me, plan_id, {"is_default": True})
    if error:
        raise web.Page(await _plans_page(request, db, me, error=error, status_code=409))
    return web.redirect(f"{web.PREFIX}/plans?done=default")


@router.get("/plans/{plan_id}/archive")
async def plan_archive_confirm(
    plan_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    operators.require_super_admin(me)
    plan = await plans.get(db, web.parse_id(plan_id))
    return web.confirm_page(
        request,
        "plans",
        title=N_("Archive this plan?"),
        question=N_(
            "Archive the plan? It leaves the home catalog and nobody can pick it any more."
        ),
        detail=N_(
            "Clients on it keep it and its terms. The default plan cannot be archived: "
            "make another plan the default first. You can bring the plan back later."
        ),
        subject=plan.name,
        action=f"{web.PREFIX}/plans/{plan.id}/archive",
        button=N_("Archive"),
        cancel=f"{web.PREFIX}/plans",
    )


@router.post("/plans/{plan_id}/archive")
async def plan_archive(plan_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    error = await _plan_flag(request, db, me, plan_id, {"archived": True})
    if error:
        raise web.Page(await _plans_page(request, db, me, error=error, status_code=409))
    return web.redirect(f"{web.PREFIX}/plans?done=archived")


@router.post("/plans/{plan_id}/unarchive")
async def plan_unarchive(plan_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    error = await _plan_flag(request, db, me, plan_id, {"archived": False})
    if error:
        raise web.Page(await _plans_page(request, db, me, error=error, status_code=409))
    return web.redirect(f"{web.PREFIX}/plans?done=unarchived")


@router.post("/plans/fx-rate")
async def fx_rate_set(request: Request, db: Session, me: SignedIn) -> Response:
    operators.require_super_admin(me)
    form = await web.checked_form(request, me)
    value = form.get("eur_usd", "").strip().replace(",", ".")
    try:
        body = FxRateIn.model_validate({"eur_usd": value})
    except ValidationError as exc:
        error = N_("The rate must be a number from 0.1 to 10 with at most 6 decimals, e.g. 1.0850.")
        page = await _plans_page(
            request, db, me, rate_value=value, rate_error=error, status_code=400
        )
        raise web.Page(page) from exc
    await plans.set_rate(db, body.eur_usd, web.actor_of(request, me))
    return web.redirect(f"{web.PREFIX}/plans?done=rate#fx-rate")


# Banners

TABS = tuple(PAGES)
TAB_LABELS = {
    "main": N_("Main"),
    "card": N_("Card"),
    "3ds": N_("3-D Secure"),
    "tx": N_("Transactions"),
    "profile": N_("Profile"),
}
WARNINGS = {
    "IMAGE_HEAVY": N_("Heavier than 400 KB: it loads slowly on phones."),
    "ASPECT_RATIO": N_(
        "Not the 16:5 shape (1200 x 375 px): it shows with empty space or looks small."
    ),
}
NOT_AN_IMAGE = N_(
    "Only WebP or JPEG images are accepted (judged by the file's content), and not a damaged one."
)
TOO_LARGE = N_("The image is too large for an upload here: make it lighter.")
NO_IMAGE = N_("Choose an image file (WebP or JPEG).")

BANNER_NOTICES = {
    "created": N_("The banner is uploaded."),
    "activated": N_("The banner is on: clients see it."),
    "deactivated": N_("The banner is off: clients no longer see it."),
    "updated": N_("The banner is saved."),
    "deleted": N_("The banner is deleted."),
}


def _upload_limit(request: Request) -> int:
    """The most bytes a console upload may carry (what the body limit lets through here)."""
    settings = request.app.state.settings
    limiter = BodyLimitMiddleware(request.app, settings)
    whole = limiter.limit_for("POST", f"{web.PREFIX}/banners")
    return min(whole, settings.banner_max_bytes)


def _banner_view(request: Request, b: Any) -> dict[str, Any]:
    out = BannerOut.of(b, request.app.state.settings.public_base_url).model_dump()
    # The console shows the image from its own origin (the CSP allows 'self' only).
    out["preview_url"] = image_url("", b)
    kb = b.size_bytes / 1024
    out["size"] = f"{kb:.0f} KB" if kb >= 10 else f"{kb:.1f} KB"
    out["warnings"] = [WARNINGS[a.code] for a in banners.advice(b.size_bytes, b.width, b.height)]
    return out


async def _banners_page(
    request: Request,
    db: Session,
    *,
    tab: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    lq = web.list_query(request, f"{web.PREFIX}/banners", ("tab",), BANNERS_PER_PAGE)
    if tab is None:
        tab = lq.values["tab"] if lq.values["tab"] in TABS else "main"
    lq.values["tab"] = tab
    every = await banners.list_all(db)
    counts = {t: sum(1 for b in every if b.page == t) for t in TABS}
    shown = [b for b in every if b.page == tab]
    start = lq.paging.offset
    page = ResultPage(
        items=shown[start : start + lq.paging.limit],
        page=lq.paging.page,
        limit=lq.paging.limit,
        total=len(shown),
    )
    return web.list_page(
        request,
        "catalog/banners.html",
        lq,
        page,
        {
            "title": N_("Banners"),
            "nav": "banners",
            "tab": tab,
            "tabs": [(t, TAB_LABELS[t], counts[t]) for t in TABS],
            "banners": [_banner_view(request, b) for b in page.items],
            "form": values or {"page": tab, "target_url": "", "active": True},
            "form_errors": errors or {},
            "max_kb": _upload_limit(request) // 1024,
            "notice": BANNER_NOTICES.get(request.query_params.get("done", "")),
            "upload_warnings": [
                WARNINGS[w] for w in request.query_params.getlist("warn") if w in WARNINGS
            ],
        },
        status_code=status_code,
    )


@router.get("/banners")
async def banner_list(request: Request, db: Session, me: SignedIn) -> Response:
    return await _banners_page(request, db)


async def _upload_form(request: Request, me: Principal) -> tuple[dict[str, str], bytes | None]:
    """The multipart form's text fields (once its CSRF token is checked) and the image's bytes
    (None when no file was chosen); ImageTooLarge past BANNER_MAX_BYTES. The form's spooled
    file is closed whatever happens."""
    form = await request.form()  # cached: checked_form reads the same parsed form
    try:
        fields = await web.checked_form(request, me)
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            return fields, None
        max_bytes: int = request.app.state.settings.banner_max_bytes
        data = await upload.read(max_bytes + 1)
        if not data and not upload.filename:
            return fields, None  # the file field left empty
        if len(data) > max_bytes:
            raise ImageTooLarge()
        return fields, data
    finally:
        await form.close()


async def _banner_form(
    request: Request, me: Principal, model: type[BannerIn]
) -> tuple[dict[str, Any], bytes | None, BannerIn | None, dict[str, str]]:
    """The posted banner form: what was typed, the image (None when none was chosen), the
    validated body (None when invalid) and the errors by field."""
    data: bytes | None = None
    too_large = False
    try:
        form, data = await _upload_form(request, me)
    except ImageTooLarge:
        form, too_large = await web.form_of(request), True
    values = {
        "page": form.get("page", ""),
        "target_url": form.get("target_url", "").strip(),
        "active": form.get("active") in ("on", "true", "1"),
    }
    errors: dict[str, str] = {}
    body = None
    try:
        body = model.model_validate(values)
    except ValidationError as exc:
        errors.update(web.field_errors(exc))
    if too_large:
        errors["image"] = TOO_LARGE
    return values, data, body, errors


@router.post("/banners")
async def banner_create(request: Request, db: Session, me: SignedIn) -> Response:
    values, data, body, errors = await _banner_form(request, me, BannerCreateIn)
    tab = values["page"] if values["page"] in TABS else "main"
    if "image" not in errors and data is None:
        errors["image"] = NO_IMAGE
    if errors or body is None or data is None:
        page = await _banners_page(
            request, db, tab=tab, values=values, errors=errors, status_code=400
        )
        raise web.Page(page)
    try:
        saved = await banners.create(
            db,
            page=body.page,
            target_url=body.target_url,
            active=body.active,
            image=data,
            actor=web.actor_of(request, me),
        )
    except InvalidImage as exc:
        page = await _banners_page(
            request, db, tab=tab, values=values, errors={"image": NOT_AN_IMAGE}, status_code=400
        )
        raise web.Page(page) from exc
    query = "".join(f"&warn={w.code}" for w in saved.warnings)
    return web.redirect(f"{web.PREFIX}/banners?tab={body.page}&done=created{query}")


@router.post("/banners/{banner_id}/active")
async def banner_switch(banner_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    active = form.get("active") in ("on", "true", "1")
    saved = await banners.update(
        db, web.parse_id(banner_id), {"active": active}, None, web.actor_of(request, me)
    )
    done = "activated" if active else "deactivated"
    return web.redirect(f"{web.PREFIX}/banners?tab={saved.banner.page}&done={done}")


def _edit_page(
    request: Request,
    banner: dict[str, Any],
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return web.render(
        request,
        "catalog/banner_form.html",
        {
            "title": N_("Edit banner"),
            "nav": "banners",
            "banner": banner,
            "tabs": [(t, TAB_LABELS[t]) for t in TABS],
            "values": values,
            "form_errors": errors,
            "max_kb": _upload_limit(request) // 1024,
        },
        status_code=status_code,
    )


async def _banner(db: Session, banner_id: uuid.UUID) -> Any:
    found = [b for b in await banners.list_all(db) if b.id == banner_id]
    if not found:
        raise BannerNotFound()
    return found[0]


@router.get("/banners/{banner_id}/edit")
async def banner_edit(banner_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    b = await _banner(db, web.parse_id(banner_id))
    view = _banner_view(request, b)
    values = {"page": b.page, "target_url": b.target_url, "active": b.active}
    return _edit_page(request, view, values=values, errors={})


@router.post("/banners/{banner_id}/edit")
async def banner_update(banner_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    values, data, body, errors = await _banner_form(request, me, BannerUpdateIn)
    b = await _banner(db, web.parse_id(banner_id))
    view = _banner_view(request, b)
    if errors or body is None:
        raise web.Page(_edit_page(request, view, values=values, errors=errors, status_code=400))
    changes = {k: v for k, v in body.model_dump().items() if getattr(b, k) != v}
    if not changes and data is None:
        return web.redirect(f"{web.PREFIX}/banners?tab={b.page}")
    try:
        saved = await banners.update(db, b.id, changes, data, web.actor_of(request, me))
    except InvalidImage as exc:
        page = _edit_page(
            request, view, values=values, errors={"image": NOT_AN_IMAGE}, status_code=400
        )
        raise web.Page(page) from exc
    query = "".join(f"&warn={w.code}" for w in saved.warnings) if data is not None else ""
    return web.redirect(f"{web.PREFIX}/banners?tab={saved.banner.page}&done=updated{query}")


@router.get("/banners/{banner_id}/delete")
async def banner_delete_confirm(
    banner_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    b = await _banner(db, web.parse_id(banner_id))
    return web.confirm_page(
        request,
        "banners",
        title=N_("Delete this banner?"),
        question=N_("Delete the banner? Clients stop seeing it at once."),
        detail=N_(
            "Its image and its click count are deleted with it; this cannot be undone. "
            "To hide it for a while, switch it off instead."
        ),
        subject=b.target_url,
        action=f"{web.PREFIX}/banners/{b.id}/delete",
        button=N_("Delete"),
        cancel=f"{web.PREFIX}/banners?tab={b.page}",
    )


@router.post("/banners/{banner_id}/delete")
async def banner_delete(banner_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    await web.checked_form(request, me)
    bid = web.parse_id(banner_id)
    b = await _banner(db, bid)
    await banners.delete(db, bid, web.actor_of(request, me))
    return web.redirect(f"{web.PREFIX}/banners?tab={b.page}&done=deleted")


# Support settings

SUPPORT_TEXT = ("contact", "working_hours", "average_reply_time")


def _support_page(
    request: Request,
    settings: SupportSettingsOut,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    title, template = N_("Support settings"), "catalog/support.html"
    return web.form_page(
        request,
        template,
        "support",
        title,
        values,
        errors,
        status_code,
        settings=settings,
        notice=notice,
    )


def _support_values(s: SupportSettingsOut) -> dict[str, str]:
    values = {k: getattr(s, k) for k in SUPPORT_TEXT}
    values["reply_time_templates"] = "\n".join(s.reply_time_templates)
    return values


SUPPORT_NOTICES = {"saved": N_("Support settings are saved."), "unchanged": N_("Nothing changed.")}


@router.get("/support")
async def support_page(request: Request, db: Session, me: SignedIn) -> Response:
    current = SupportSettingsOut.of(await support.current(db))
    notice = SUPPORT_NOTICES.get(request.query_params.get("done", ""))
    return _support_page(
        request, current, values=_support_values(current), errors={}, notice=notice
    )


@router.post("/support")
async def support_save(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    current = SupportSettingsOut.of(await support.current(db))
    values = web.form_values(form, SUPPORT_TEXT)
    values["reply_time_templates"] = form.get("reply_time_templates", "").replace("\r\n", "\n")
    template = form.get("apply_template", "").strip()
    if template:  # "Reply-time templates (applied to “Average reply time”)"
        values["average_reply_time"] = template
    templates = [line.strip() for line in values["reply_time_templates"].split("\n")]
    parsed = {
        **{k: values[k] for k in SUPPORT_TEXT},
        "reply_time_templates": [t for t in templates if t],
    }
    try:
        body = SupportSettingsIn.model_validate(parsed)
    except ValidationError as exc:
        errors = web.field_errors(exc)
        if "reply_time_templates" in errors:
            errors["reply_time_templates"] = N_(
                "At most 20 templates, one a line, each at most 100 characters."
            )
        page = _support_page(request, current, values=values, errors=errors, status_code=400)
        raise web.Page(page) from exc
    before = current.model_dump()
    changes = {
        field: getattr(body, field)
        for field in body.model_fields_set
        if getattr(body, field) != before[field]
    }
    if not changes:
        return web.redirect(f"{web.PREFIX}/support?done=unchanged")
    await support.update(db, changes, web.actor_of(request, me))
    return web.redirect(f"{web.PREFIX}/support?done=saved")
