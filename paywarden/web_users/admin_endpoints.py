"""The seed's admin API for web sign-ups: `GET /api/v1/admin/web-users` (`?format=csv` streams
CSV) and `DELETE /api/v1/admin/web-users/<id>`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from paywarden.kit.time import utcnow
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor
from paywarden.web_users import csv_export, service
from paywarden.web_users.repository import WebUserFilter
from paywarden.web_users.schemas import WebUserOut, WebUserPage, WebUserPatchIn, WebUserQuery

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: web users"])


@router.get(
    "/web-users",
    response_model=WebUserPage,
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_web_users(
    q: Annotated[WebUserQuery, Query()], request: Request, db: Session, _: CurrentOperator
) -> WebUserPage | StreamingResponse:
    """Newest first; `search` matches email, external_user_id, user id or client id.
    `format=csv` streams every matching row (page and limit ignored)."""
    f = WebUserFilter(search=q.search or None, status=q.status)
    if q.format == "csv":
        name = f"web-users-{utcnow():%Y%m%d-%H%M%S}.csv"
        return StreamingResponse(
            csv_export.rows(request.app.state.db, f),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    page = await service.search(db, f, q)
    return WebUserPage(data=[WebUserOut.of(u) for u in page.items], pagination=page.pagination())


@router.delete(
    "/web-users/{web_user_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_web_user(
    web_user_id: uuid.UUID, db: Session, _: CurrentOperator, actor: OperatorActor
) -> Response:
    """Deletes the login; the linked client and its ledger stay. Audited."""
    await service.delete(db, web_user_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/web-users/{web_user_id}", response_model=WebUserOut)
async def update_web_user(
    web_user_id: uuid.UUID,
    body: WebUserPatchIn,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> WebUserOut:
    """`status` `active` | `disabled` (disabling signs the user out; enabling needs a verified
    email, else 409 `INVALID_STATE`); `external_user_id` links the login to an existing bot
    client (`tg_…`, 404 when there is none) or unlinks it (null). Audited."""
    return WebUserOut.of(await service.update(db, web_user_id, body.changes(), actor))
