"""HTTP for operator sign-in, sessions and operator management (`/api/v1/admin/...`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from paywarden.kit.web import DbRoute, Session
from paywarden.operators import service
from paywarden.operators.cookies import clear_cookie, set_cookie
from paywarden.operators.dependencies import (
    Anonymous,
    Auth,
    CurrentOperator,
    OperatorActor,
    Primary,
    SuperAdmin,
)
from paywarden.operators.schemas import (
    BootstrapIn,
    EnrolledOut,
    EnrollIn,
    LoginIn,
    Ok,
    OperatorCreateIn,
    OperatorList,
    OperatorOut,
    PasswordChangeIn,
    SessionList,
    SessionOut,
    SetupRequiredOut,
)
from paywarden.operators.service import SignedIn

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: operators"])


@router.post("/auth/bootstrap", status_code=status.HTTP_201_CREATED, response_model=OperatorOut)
async def bootstrap(
    body: BootstrapIn,
    db: Session,
    ctx: Auth,
    actor: Anonymous,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> OperatorOut:
    """Create the first super_admin; only while no operator exists."""
    operator = await service.bootstrap(db, ctx, x_admin_token, body.email, body.password, actor)
    return OperatorOut.of(operator)


@router.post("/auth/login", response_model=Ok | SetupRequiredOut)
async def login(
    body: LoginIn, request: Request, response: Response, db: Session, ctx: Auth, actor: Anonymous
) -> Ok | SetupRequiredOut:
    """Password, then the authenticator code; without `email` it signs in the primary operator."""
    outcome = await service.login(
        db, ctx, email=body.email, password=body.password, code=body.totp_code, actor=actor
    )
    if isinstance(outcome, SignedIn):
        set_cookie(request, response, outcome)
        return Ok()
    return SetupRequiredOut(
        setup_token=outcome.setup_token, otpauth_uri=outcome.otpauth_uri, qr_svg=outcome.qr_svg
    )


@router.post("/auth/totp/enroll", response_model=EnrolledOut)
async def enroll(
    body: EnrollIn, request: Request, response: Response, db: Session, ctx: Auth, actor: Anonymous
) -> EnrolledOut:
    """Confirm 2FA setup with a first code; answers the backup codes once and signs in."""
    signed = await service.enroll(
        db, ctx, setup_token=body.setup_token, code=body.totp_code, actor=actor
    )
    set_cookie(request, response, signed)
    return EnrolledOut(backup_codes=signed.backup_codes or [])


@router.post("/auth/logout", response_model=Ok)
async def logout(
    request: Request, response: Response, db: Session, me: CurrentOperator, actor: OperatorActor
) -> Ok:
    await service.logout(db, me, actor)
    clear_cookie(request, response)
    return Ok()


@router.get("/auth/me", response_model=OperatorOut)
async def me(me: CurrentOperator) -> OperatorOut:
    return OperatorOut.of(me.operator)


@router.post("/auth/password", response_model=Ok)
async def change_password(
    body: PasswordChangeIn, db: Session, ctx: Auth, me: CurrentOperator, actor: OperatorActor
) -> Ok:
    """Change your password; your other sessions end."""
    await service.change_password(
        db, ctx, me, current=body.current_password, new=body.new_password, actor=actor
    )
    return Ok()


@router.get("/operators", response_model=OperatorList)
async def list_operators(db: Session, _: SuperAdmin) -> OperatorList:
    return OperatorList(data=[OperatorOut.of(o) for o in await service.list_operators(db)])


@router.post("/operators", status_code=status.HTTP_201_CREATED, response_model=OperatorOut)
async def create_operator(
    body: OperatorCreateIn, db: Session, _: Primary, actor: OperatorActor
) -> OperatorOut:
    operator = await service.create_operator(
        db, email=body.email, password=body.password, role=body.role, actor=actor
    )
    return OperatorOut.of(operator)


@router.delete("/operators/{operator_id}", response_model=Ok)
async def delete_operator(
    operator_id: uuid.UUID, db: Session, _: Primary, actor: OperatorActor
) -> Ok:
    await service.delete_operator(db, operator_id, actor)
    return Ok()


@router.post("/operators/{operator_id}/reset-2fa", response_model=Ok)
async def reset_2fa(operator_id: uuid.UUID, db: Session, _: Primary, actor: OperatorActor) -> Ok:
    await service.reset_2fa(db, operator_id, actor)
    return Ok()


@router.get("/sessions", response_model=SessionList)
async def list_sessions(db: Session, me: CurrentOperator) -> SessionList:
    """Your live sessions; the primary operator sees everyone's."""
    rows = await service.list_sessions(db, me)
    return SessionList(data=[SessionOut.of(s, email, me.session.id) for s, email in rows])


@router.delete("/sessions/{session_id}", response_model=Ok)
async def revoke_session(
    session_id: uuid.UUID, db: Session, me: CurrentOperator, actor: OperatorActor
) -> Ok:
    await service.revoke_session(db, me, session_id, actor)
    return Ok()
