"""The operator session cookie, set and cleared the same way by the API and the console."""

from __future__ import annotations

from fastapi import Request, Response

from paywarden.operators.service import SESSION_TTL, SignedIn
from paywarden.operators.tokens import COOKIE_NAME

MAX_AGE = int(SESSION_TTL.total_seconds())


def set_cookie(request: Request, response: Response, signed: SignedIn) -> None:
    response.set_cookie(
        COOKIE_NAME,
        signed.token,
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.is_production,
    )


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.is_production,
    )
