"""Who is calling: the `admin_token` cookie resolved to an operator and a live session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from paywarden.audit.context import Actor
from paywarden.kit.web import Session, client_ip, user_agent
from paywarden.operators import service
from paywarden.operators.errors import AdminUnauthorized
from paywarden.operators.service import AuthContext, Principal
from paywarden.operators.tokens import COOKIE_NAME


async def auth_context(request: Request) -> AuthContext:
    return request.app.state.auth


Auth = Annotated[AuthContext, Depends(auth_context)]


async def request_actor(request: Request) -> Actor:
    """The anonymous caller, before sign-in: only where it comes from."""
    return Actor("anonymous", None, client_ip(request), user_agent(request))


async def signed_in(request: Request, db: Session, ctx: Auth) -> Principal:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise AdminUnauthorized()
    return await service.authenticate(db, ctx, token)


async def super_admin(principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
    service.require_super_admin(principal)
    return principal


async def primary(principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
    service.require_primary(principal)
    return principal


async def operator_actor(
    request: Request, principal: Annotated[Principal, Depends(signed_in)]
) -> Actor:
    return principal.actor(client_ip(request), user_agent(request))


CurrentOperator = Annotated[Principal, Depends(signed_in)]
SuperAdmin = Annotated[Principal, Depends(super_admin)]
Primary = Annotated[Principal, Depends(primary)]
Anonymous = Annotated[Actor, Depends(request_actor)]
OperatorActor = Annotated[Actor, Depends(operator_actor)]
