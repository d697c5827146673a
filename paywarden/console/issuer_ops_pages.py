"""Cards operations: the issuer inbox (events, lag, replay) and the B2B profile pool (uploads
with their validation report, statistics, profiles, groups and invites).

The same services and role checks as the admin API (card_transactions/admin_endpoints.py,
b2b/endpoints.py): the inbox and the pool's housekeeping are for any operator; uploading
profiles and creating invites hand out issuer credentials, so only a super_admin does them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from paywarden.b2b import invites
from paywarden.b2b import service as b2b
from paywarden.b2b.crypto import vault_for
from paywarden.b2b.filters import ProfileFilter
from paywarden.b2b.schemas import GroupIn, InviteIn, InviteOut, ProfileOut, ProfileResult
from paywarden.card_transactions import inbox
from paywarden.card_transactions.schemas import IssuerEventOut
from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import SignedIn
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.bodylimit import BodyLimitMiddleware, duplicate_key
from paywarden.kit.errors import AppError, NotFound
from paywarden.kit.time import iso, utcnow
from paywarden.kit.web import Session
from paywarden.models import B2bGroup
from paywarden.operators import service as operators
from paywarden.operators.service import Principal

router = web.console_router()

# Both pages are read by any operator (as the API's GETs); the super_admin-only actions are
# checked on their routes and their forms hidden from others.
NAV = [
    web.NavEntry("Cards", "issuer-events", "Issuer inbox", f"{web.PREFIX}/issuer-events", 8),
    web.NavEntry("Cards", "b2b", "B2B pool", f"{web.PREFIX}/b2b", 9),
]

# ---- the issuer inbox ----------------------------------------------------------------------

EVENTS_PER_PAGE = 25
# The tabs, failures and waiting events first; "received" is the service's word for waiting.
EVENT_TABS = (
    ("failed", N_("Failed")),
    ("received", N_("Waiting")),
    ("processed", N_("Processed")),
    ("all", N_("All")),
)
_SECRET_KEYS = {"code", "otp"}  # a 3-D Secure code, wherever an adapter put it


def _masked(value: Any) -> Any:
    """The payload as operators see it: the service masks the code already; any key naming a
    code deeper in (an adapter's `extra`) is masked here too."""
    if isinstance(value, dict):
        return {
            k: ("***" if k in _SECRET_KEYS and v not in (None, "") else _masked(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@dataclass(frozen=True)
class EventView:
    event: IssuerEventOut
    payload_json: str

    @classmethod
    def of(cls, out: IssuerEventOut) -> EventView:
        masked = out.model_copy(update={"payload": _masked(out.payload)})
        text = json.dumps(masked.payload, indent=2, sort_keys=True, default=str)
        return cls(masked, text)


@router.get("/issuer-events")
async def issuer_events(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(request, f"{web.PREFIX}/issuer-events", ("status",), EVENTS_PER_PAGE)
    tab = lq.values["status"] or "failed"
    if tab not in {key for key, _ in EVENT_TABS}:
        lq.errors.append(N_("Unknown status: showing the failed events."))
        tab = "failed"
    lq.values["status"] = tab
    page = await inbox.search(db, None if tab == "all" else tab, lq.paging)
    stats = await inbox.stats(db, utcnow())
    return web.list_page(
        request,
        "issuer_ops/events.html",
        lq,
        page,
        {
            "title": N_("Issuer inbox"),
            "nav": "issuer-events",
            "stats": stats,
            "tab": tab,
            "tabs": EVENT_TABS,
            "events": [EventView.of(IssuerEventOut.of(e)) for e in page.items],
            "cards_off": request.app.state.issuer is None,
        },
    )


@router.post("/issuer-events/{event_id}/replay")
async def replay_event(event_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    """One more attempt through the inbox service (audited there); a processed event is
    refused with the service's message (409)."""
    await web.checked_form(request, me)
    event = await inbox.replay(db, web.parse_id(event_id), web.actor_of(request, me), utcnow())
    return web.render(
        request,
        "issuer_ops/replayed.html",
        {
            "title": N_("Event replayed"),
            "nav": "issuer-events",
            "view": EventView.of(IssuerEventOut.of(event)),
        },
    )


# ---- the B2B pool --------------------------------------------------------------------------

PROFILES_PER_PAGE = 25
PROFILE_STATUSES = ("available", "assigned", "disabled")
B2B_NOTICES = {
    "group": N_("The group is created. Create an invite to hand its profiles out."),
    "disabled": N_("The profile is disabled: no client can be given it."),
    "enabled": N_("The profile is back in the pool, available to the next redeem."),
}


def _issuer(request: Request) -> IssuerAdapter | None:
    return getattr(request.app.state, "issuer", None)


def upload_limit(request: Request) -> int:
    """The API's limit on an upload's body (B2B_UPLOAD_MAX_BYTES)."""
    return int(request.app.state.settings.b2b_upload_max_bytes)


def _console_upload_limit(request: Request) -> int:
    """What the body-limit middleware lets through to this page's upload route: the API's
    limit once the route is listed beside the API's, else the default body limit."""
    middleware = BodyLimitMiddleware(None, request.app.state.settings)  # type: ignore[arg-type]
    return min(middleware.limit_for("POST", f"{web.PREFIX}/b2b/upload"), upload_limit(request))


def _is_super(me: Principal) -> bool:
    return me.operator.role == "super_admin"


async def _b2b_page(
    request: Request,
    db: Session,
    me: Principal,
    *,
    upload_error: str | None = None,
    error_params: dict[str, str] | None = None,
    group_error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stats = await b2b.stats(db)
    issuer = _issuer(request)
    return web.render(
        request,
        "issuer_ops/b2b.html",
        {
            "title": N_("B2B pool"),
            "nav": "b2b",
            "stats": stats,
            "groups": [g for g, _ in stats.groups if g is not None],
            "issuer_name": issuer.name if issuer is not None else None,
            "can_upload": _is_super(me),
            "limit_bytes": _console_upload_limit(request),
            "upload_error": upload_error,
            "error_params": error_params or {},
            "limit_text": _size(_console_upload_limit(request)),
            "group_error": group_error,
            "values": values or {},
            "notice": B2B_NOTICES.get(request.query_params.get("done", "")),
        },
        status_code=status_code,
    )


@router.get("/b2b")
async def b2b_home(request: Request, db: Session, me: SignedIn) -> Response:
    return await _b2b_page(request, db, me)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


@router.post("/b2b/upload")
async def b2b_upload(request: Request, db: Session, me: SignedIn) -> Response:
    """The API's upload (`POST /b2b-profiles`): a JSON array from the textarea or a file, each
    profile validated through the issuer's token flow; the per-profile report is the answer."""
    operators.require_super_admin(me)
    limit = upload_limit(request)
    try:  # parsed here first, with the upload's limit for a field (the form is then cached)
        form = await request.form(max_part_size=limit + 1)
    except Exception:  # starlette's MultiPartException / HTTPException on a malformed body
        form = None
    if form is None:
        raise web.Page(
            await _b2b_page(
                request, db, me, upload_error=N_("The upload was not understood."), status_code=400
            )
        )
    raw: bytes = b""
    try:
        fields = await web.checked_form(request, me)
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(limit + 1)
    finally:
        await form.close()  # a spooled file, read (or refused)
    values = {"group_id": fields.get("group_id", ""), "profiles": fields.get("profiles", "")}

    async def refuse(message: str, status_code: int = 400, **params: str) -> web.Page:
        page = await _b2b_page(
            request,
            db,
            me,
            upload_error=message,
            error_params=params,
            values=values,
            status_code=status_code,
        )
        return web.Page(page)

    adapter = _issuer(request)
    if adapter is None:
        raise await refuse(N_("Cards are off (ISSUER=none): profiles cannot be validated."), 503)
    if not raw.strip():
        raw = values["profiles"].encode()
    if not raw.strip():
        raise await refuse(N_("Paste the JSON array of profiles or choose a .json file."))
    if len(raw) > limit:
        raise await refuse(N_("The upload is too large: at most %(size)s."), size=_size(limit))
    if duplicate_key(raw) is not None:
        raise await refuse(N_("The JSON repeats a key within one profile: remove the duplicate."))
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        raise await refuse(N_("This is not valid JSON: check the brackets and quotes.")) from None
    if not isinstance(items, list):
        raise await refuse(N_("The upload must be a JSON array of profiles: [{…}, {…}]."))
    group_id: uuid.UUID | None = None
    if values["group_id"]:
        try:
            group_id = uuid.UUID(values["group_id"])
        except ValueError:
            raise await refuse(N_("Choose a group from the list.")) from None
    try:
        vault = vault_for(request.app.state.settings)  # before any issuer call: fail fast
        done = await b2b.upload(db, adapter, vault, items, group_id, web.actor_of(request, me))
    except AppError as exc:  # empty, too many, unknown group, no encryption key
        raise await refuse(exc.message, exc.status if exc.status >= 500 else 400) from exc
    results = [
        ProfileResult(index=e.index, external_id=e.external_id, ok=e.ok, reason=e.reason, id=e.id)
        for e in done.entries
    ]
    return web.render(
        request,
        "issuer_ops/b2b_report.html",
        {
            "title": N_("Upload report"),
            "nav": "b2b",
            "received": done.received,
            "saved": done.saved,
            "results": results,
        },
    )


@router.get("/b2b/profiles")
async def b2b_profiles(request: Request, db: Session, me: SignedIn) -> Response:
    lq = web.list_query(
        request, f"{web.PREFIX}/b2b/profiles", ("status", "group_id"), PROFILES_PER_PAGE
    )
    status = lq.values["status"]
    if status and status not in PROFILE_STATUSES:
        lq.errors.append(N_("Unknown status."))
        status = ""
    group_id = lq.uuid_of("group_id", N_("Unknown group."))
    page = await b2b.profiles(
        db, ProfileFilter(status=status or None, group_id=group_id), lq.paging
    )
    stats = await b2b.stats(db)
    groups = [g for g, _ in stats.groups if g is not None]
    return web.list_page(
        request,
        "issuer_ops/b2b_profiles.html",
        lq,
        page,
        {
            "title": N_("B2B profiles"),
            "nav": "b2b",
            "profiles": [ProfileOut.of(p) for p in page.items],
            "groups": groups,
            "group_names": {g.id: g.name for g in groups},
            "statuses": PROFILE_STATUSES,
            "notice": B2B_NOTICES.get(request.query_params.get("done", "")),
        },
    )


@router.get("/b2b/profiles/{profile_id}/disable")
async def b2b_disable_confirm(
    profile_id: str, request: Request, db: Session, me: SignedIn
) -> Response:
    pid = web.parse_id(profile_id)
    return web.confirm_page(
        request,
        "b2b",
        title=N_("Disable this profile?"),
        question=N_("Disable this profile? No client is given it until it is enabled again."),
        detail=N_("A client holding it keeps it on record, but the profile leaves circulation."),
        action=f"{web.PREFIX}/b2b/profiles/{pid}/disable",
        button=N_("Disable"),
        cancel=f"{web.PREFIX}/b2b/profiles",
    )


async def _set_status(
    request: Request, db: Session, me: Principal, profile_id: str, status: str
) -> None:
    await web.checked_form(request, me)
    await b2b.update_profile(
        db, web.parse_id(profile_id), {"status": status}, web.actor_of(request, me)
    )


@router.post("/b2b/profiles/{profile_id}/disable")
async def b2b_disable(profile_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    await _set_status(request, db, me, profile_id, "disabled")
    return web.redirect(f"{web.PREFIX}/b2b/profiles?done=disabled")


@router.post("/b2b/profiles/{profile_id}/enable")
async def b2b_enable(profile_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    await _set_status(request, db, me, profile_id, "available")
    return web.redirect(f"{web.PREFIX}/b2b/profiles?done=enabled")


@router.post("/b2b/groups")
async def b2b_group_create(request: Request, db: Session, me: SignedIn) -> Response:
    form = await web.checked_form(request, me)
    values = {"name": form.get("name", "")}
    try:
        body = GroupIn.model_validate(values)
        await invites.create_group(db, body.name, web.actor_of(request, me))
    except ValidationError:
        error, status = N_("Give the group a name (1 to 100 characters)."), 400
    except AppError as exc:  # GROUP_EXISTS
        error, status = exc.message, exc.status
    else:
        return web.redirect(f"{web.PREFIX}/b2b?done=group")
    page = await _b2b_page(request, db, me, group_error=error, values=values, status_code=status)
    raise web.Page(page)


async def _group(db: Session, group_id: str) -> tuple[B2bGroup, b2b.Tally]:
    wanted = web.parse_id(group_id)
    for g, tally in (await b2b.stats(db)).groups:
        if g is not None and g.id == wanted:
            return g, tally
    raise NotFound("B2B group not found")


async def _group_page(
    request: Request,
    db: Session,
    me: Principal,
    group_id: str,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    group, tally = await _group(db, group_id)
    rows = [InviteOut.of(i) for i in await invites.invites(db, group.id)]
    return web.render(
        request,
        "issuer_ops/b2b_group.html",
        {
            "title": group.name,
            "nav": "b2b",
            "group": group,
            "created_at": iso(group.created_at),
            "tally": tally,
            "invites": rows,
            "can_invite": _is_super(me),
            "error": error,
            "values": values or {"max_uses": "1"},
            "now": utcnow(),
        },
        status_code=status_code,
    )


@router.get("/b2b/groups/{group_id}")
async def b2b_group(group_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    return await _group_page(request, db, me, group_id)


def _expiry(value: str) -> datetime | None:
    """A `datetime-local` value read as UTC; empty: never expires."""
    if not value.strip():
        return None
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.post("/b2b/groups/{group_id}/invites")
async def b2b_invite_create(group_id: str, request: Request, db: Session, me: SignedIn) -> Response:
    """The API's `POST /b2b-groups/:id/invites` (super_admin): the code is on this page only."""
    operators.require_super_admin(me)
    form = await web.checked_form(request, me)
    values = {
        "max_uses": form.get("max_uses", "1").strip() or "1",
        "expires_at": form.get("expires_at", ""),
    }
    error = None
    try:
        expires = _expiry(values["expires_at"])
        body = InviteIn.model_validate({"max_uses": values["max_uses"], "expires_at": expires})
    except (ValueError, ValidationError):
        error = N_("Max uses is a whole number from 1 to 10,000; the expiry a date and time.")
    else:
        if body.expires_at is not None and body.expires_at <= utcnow():
            error = N_("The expiry is in the past: choose a later time, or leave it empty.")
    if error is not None:
        page = await _group_page(
            request, db, me, group_id, error=error, values=values, status_code=400
        )
        raise web.Page(page)
    group, _ = await _group(db, group_id)
    invite, code = await invites.create_invite(
        db, group.id, body.max_uses, body.expires_at, web.actor_of(request, me)
    )
    return web.render(
        request,
        "issuer_ops/b2b_invite.html",
        {
            "title": N_("Invite created"),
            "nav": "b2b",
            "group": group,
            "invite": InviteOut.of(invite),
            "code": code,
        },
        status_code=201,
    )
