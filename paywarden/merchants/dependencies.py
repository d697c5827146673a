"""Merchant API authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from paywarden.kit.errors import RateLimited
from paywarden.kit.web import Session
from paywarden.merchants import service
from paywarden.models import Merchant


def _presented_key(request: Request) -> str | None:
    if key := request.headers.get("x-api-key"):
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials else None


async def current_merchant(request: Request, db: Session) -> Merchant:
    merchant = await service.authenticate(db, _presented_key(request))
    limiter = request.app.state.auth.limiter
    rule = request.app.state.settings.merchant_rate_limit
    if not await limiter.hit(rule, "merchant", str(merchant.id)):
        from limits import parse

        retry = await limiter.retry_after(parse(rule), "merchant", str(merchant.id))
        raise RateLimited(headers={"Retry-After": str(retry)})
    return merchant


CurrentMerchant = Annotated[Merchant, Depends(current_merchant)]
