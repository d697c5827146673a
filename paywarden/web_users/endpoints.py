"""HTTP for web sign-ups on the client API (`/api/botcartd/web/...`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from paywarden.kit.web import DbRoute, Session, client_ip
from paywarden.operators.schemas import Ok
from paywarden.web_users import service
from paywarden.web_users.schemas import LoginIn, SignedInOut, SignupIn, StatusOut
from paywarden.web_users.service import WebUsersContext
from paywarden.web_users.tokens import COOKIE_NAME, cookie_options

router = APIRouter(prefix="/api/botcartd/web", route_class=DbRoute, tags=["client: web users"])

MAX_AGE = int(service.SESSION_TTL.total_seconds())


async def web_context(request: Request) -> WebUsersContext:
    return request.app.state.web_users


Ctx = Annotated[WebUsersContext, Depends(web_context)]


def _cookie_options(request: Request) -> dict[str, object]:
    return cookie_options(request.app.state.settings.is_production)


@router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=StatusOut)
async def signup(body: SignupIn, request: Request, db: Session, ctx: Ctx) -> StatusOut:
    """Email and a password of 10+ characters; a verification link is mailed (409
    `EMAIL_TAKEN`; 503 `EMAIL_UNAVAILABLE` when mail cannot be sent)."""
    user = await service.signup(db, ctx, body.email, body.password, client_ip(request))
    return StatusOut(status=user.status)


@router.get("/verify", response_model=StatusOut)
async def verify(
    token: Annotated[str, Query(min_length=1, max_length=512)], db: Session, ctx: Ctx
) -> StatusOut:
    """The link from the mail: activates the account (400 `TOKEN_INVALID` / `TOKEN_EXPIRED`)."""
    user = await service.verify(db, ctx, token)
    return StatusOut(status=user.status)


@router.post("/login", response_model=SignedInOut)
async def login(
    body: LoginIn, request: Request, response: Response, db: Session, ctx: Ctx
) -> SignedInOut:
    """Sets the `client_token` cookie (401 `INVALID_CREDENTIALS`, 403 `EMAIL_NOT_VERIFIED` or
    `ACCOUNT_DISABLED`, 429 with Retry-After after repeated failures)."""
    signed = await service.login(db, ctx, body.email, body.password, client_ip(request))
    response.set_cookie(COOKIE_NAME, signed.token, max_age=MAX_AGE, **_cookie_options(request))  # type: ignore[arg-type]
    user = signed.user
    return SignedInOut(
        client_id=user.client_id, external_user_id=user.external_user_id or f"web_{user.id}"
    )


@router.post("/logout", response_model=Ok)
async def logout(request: Request, response: Response, db: Session, ctx: Ctx) -> Ok:
    """Ends the session the cookie names and clears the cookie."""
    await service.logout(db, ctx, request.cookies.get(COOKIE_NAME))
    response.delete_cookie(COOKIE_NAME, **_cookie_options(request))  # type: ignore[arg-type]
    return Ok()
