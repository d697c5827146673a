"""Banners over HTTP: the admin API (`/api/v1/admin/banners`, multipart uploads) and the client
side (`/api/botcartd/banners`: the list, the counted click, the cached image)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from paywarden.banners import service
from paywarden.banners.errors import ImageTooLarge
from paywarden.banners.schemas import (
    BannerCreateIn,
    BannerList,
    BannerOut,
    BannerSavedOut,
    BannerUpdateIn,
    ClientBannerList,
    ClientBannerOut,
    PageName,
)
from paywarden.kit.errors import InvalidBody
from paywarden.kit.openapi import ERROR_REF
from paywarden.kit.web import DbRoute, Session
from paywarden.models.banners import PAGES
from paywarden.operators.dependencies import CurrentOperator, OperatorActor

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: banners"])
client_router = APIRouter(prefix="/api/botcartd", route_class=DbRoute, tags=["client: banners"])

M = TypeVar("M", BannerCreateIn, BannerUpdateIn)
FIELD_MAX_BYTES = 16 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
TOO_LARGE = {
    413: {
        "description": "The image is larger than BANNER_MAX_BYTES (IMAGE_TOO_LARGE), or the "
        "request than BANNER_MAX_BYTES + 64 KB (PAYLOAD_TOO_LARGE)",
        "content": {"application/json": {"schema": ERROR_REF}},
    }
}


def _form_doc(required: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "page": {"type": "string", "enum": list(PAGES)},
        "image": {
            "type": "string",
            "format": "binary",
            "description": "WebP or JPEG (judged by its bytes); 1200 x 375 px, < 400 KB advised",
        },
        "target_url": {"type": "string", "maxLength": 2048, "description": "http(s) URL"},
        "active": {"type": "boolean", "default": True},
    }
    schema = {"type": "object", "properties": fields, "required": required}
    return {
        "requestBody": {
            "required": bool(required),
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


def _base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


def _too_large(max_bytes: int) -> ImageTooLarge:
    return ImageTooLarge(f"The image is larger than the limit of {max_bytes} bytes")


async def _parse(request: Request) -> FormData:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    stream = request.stream()  # capped by BodyLimitMiddleware at BANNER_MAX_BYTES + 64 KB
    try:
        if content_type == "multipart/form-data":
            return await MultiPartParser(
                request.headers,
                stream,
                max_files=1,
                max_fields=10,
                max_part_size=FIELD_MAX_BYTES,
            ).parse()
        if content_type == "application/x-www-form-urlencoded":  # text fields only
            return await FormParser(
                request.headers, stream, max_fields=10, max_part_size=FIELD_MAX_BYTES
            ).parse()
    except MultiPartException as exc:
        raise InvalidBody(f"Invalid form: {exc.message}") from exc
    except ClientDisconnect as exc:
        raise InvalidBody("The upload was interrupted") from exc
    return FormData()


async def _read_form(request: Request, model: type[M]) -> tuple[M, bytes | None]:
    """The form's text fields as `model`, and the image's bytes (None when no file was sent).

    Parsed here rather than by FastAPI so that sign-in is checked first. The request as a whole
    is capped while it streams in by BodyLimitMiddleware (PAYLOAD_TOO_LARGE); the image itself
    is held to BANNER_MAX_BYTES here (IMAGE_TOO_LARGE).
    """
    max_bytes: int = request.app.state.settings.banner_max_bytes
    form = await _parse(request)
    try:
        upload = form.get("image")
        if isinstance(upload, str):
            raise InvalidBody("Invalid request body: image: must be a file (multipart/form-data)")
        data = await upload.read(max_bytes + 1) if isinstance(upload, UploadFile) else None
        fields = {k: v for k, v in form.multi_items() if k != "image" and isinstance(v, str)}
    finally:
        await form.close()
    if data is not None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    try:
        body = model.model_validate(fields)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from exc
    return body, data


@router.get("/banners", response_model=BannerList)
async def list_banners(
    request: Request,
    db: Session,
    _: CurrentOperator,
    page: PageName | None = Query(default=None, description="Only this client tab"),
) -> BannerList:
    """Every banner, inactive ones included, newest first."""
    base = _base_url(request)
    return BannerList(data=[BannerOut.of(b, base) for b in await service.list_all(db, page)])


@router.post(
    "/banners",
    status_code=status.HTTP_201_CREATED,
    response_model=BannerSavedOut,
    responses=TOO_LARGE,
    openapi_extra=_form_doc(["page", "image", "target_url"]),
)
async def create_banner(
    request: Request, db: Session, _: CurrentOperator, actor: OperatorActor
) -> BannerSavedOut:
    """Multipart form: `page`, `image` (WebP or JPEG, else 400 `INVALID_IMAGE`), `target_url`,
    `active` (default true). `warnings` advise on the image's weight and shape; it is saved."""
    body, data = await _read_form(request, BannerCreateIn)
    if data is None:
        raise InvalidBody("Invalid request body: image: field required")
    saved = await service.create(
        db,
        page=body.page,
        target_url=body.target_url,
        active=body.active,
        image=data,
        actor=actor,
    )
    return BannerSavedOut.saved(saved.banner, saved.warnings, _base_url(request))


@router.put(
    "/banners/{banner_id}",
    response_model=BannerSavedOut,
    responses=TOO_LARGE,
    openapi_extra=_form_doc([]),
)
async def update_banner(
    banner_id: uuid.UUID,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> BannerSavedOut:
    """Multipart form, any of the fields; a new `image` replaces the old one (new `image_url`)."""
    body, data = await _read_form(request, BannerUpdateIn)
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    saved = await service.update(db, banner_id, changes, data, actor)
    return BannerSavedOut.saved(saved.banner, saved.warnings, _base_url(request))


@router.delete(
    "/banners/{banner_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_banner(
    banner_id: uuid.UUID, db: Session, _: CurrentOperator, actor: OperatorActor
) -> Response:
    await service.delete(db, banner_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@client_router.get("/banners", response_model=ClientBannerList)
async def client_banners(
    request: Request,
    db: Session,
    page: PageName | None = Query(default=None, description="The tab; all tabs when omitted"),
) -> ClientBannerList:
    """Active partner ads, newest first. Public: they are ads. Link to `click_url`."""
    base = _base_url(request)
    return ClientBannerList(
        data=[ClientBannerOut.of(b, base) for b in await service.list_active(db, page)]
    )


@client_router.get(
    "/banners/{banner_id}/click",
    response_class=RedirectResponse,
    status_code=status.HTTP_302_FOUND,
    responses={302: {"description": "To the banner's stored target_url"}},
)
async def click_banner(banner_id: uuid.UUID, db: Session) -> RedirectResponse:
    """Counts the click and redirects to the stored target (never to a URL from the request);
    404 when the banner is unknown or inactive."""
    target = await service.click(db, banner_id)
    # no-store: a browser that cached the redirect would skip the count next time.
    return RedirectResponse(target, status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"})


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@client_router.get(
    "/banners/{banner_id}/image",
    response_class=Response,
    responses={
        200: {"content": {"image/webp": {}, "image/jpeg": {}}},
        304: {"description": "Not modified (If-None-Match)"},
    },
)
async def banner_image(
    banner_id: uuid.UUID,
    request: Request,
    db: Session,
    v: str | None = Query(default=None, max_length=64, description="The image's hash prefix"),
) -> Response:
    """The image bytes. Under its current `image_url` (`v` = its hash) it never changes, so it
    is cached for a year; under a stale or missing `v` it is revalidated each time."""
    image = await service.image(db, banner_id)
    etag = f'"{image.sha256}"'
    current = v is not None and len(v) >= 8 and image.sha256.startswith(v.lower())
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if current else "public, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(image.data, media_type=image.content_type, headers=headers)
