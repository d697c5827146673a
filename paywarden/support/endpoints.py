"""`GET/PUT /api/v1/admin/support-settings`: what clients are told about support."""

from __future__ import annotations

from fastapi import APIRouter

from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor
from paywarden.support import service
from paywarden.support.schemas import SupportSettingsIn, SupportSettingsOut

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: support"])


@router.get("/support-settings", response_model=SupportSettingsOut)
async def get_support_settings(db: Session, _: CurrentOperator) -> SupportSettingsOut:
    """`contact`, `working_hours`, `average_reply_time`, `reply_time_templates`; the defaults
    (with `updated_at` null) until saved."""
    return SupportSettingsOut.of(await service.current(db))


@router.put("/support-settings", response_model=SupportSettingsOut)
async def put_support_settings(
    body: SupportSettingsIn, db: Session, _: CurrentOperator, actor: OperatorActor
) -> SupportSettingsOut:
    """Any of the fields; the others keep their values. Any operator may edit them."""
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    return SupportSettingsOut.of(await service.update(db, changes, actor))
