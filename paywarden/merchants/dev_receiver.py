"""A merchant's webhook endpoint for development: the demo merchant's `webhook_url`, so that a
demo order reaches `completed` as a real shop's would, and each delivery (its answer included)
shows on the order's page in the console. It checks what a merchant must check — the Standard
Webhooks signature under the merchant's secret, in constant time, and a fresh timestamp — and
answers 200 or 401. Mounted only outside production, as the devnet is.
"""

from __future__ import annotations

import hmac
import time
import uuid

from fastapi import APIRouter, Request

from paywarden.kit.logging import get_logger
from paywarden.kit.web import DbRoute, Session
from paywarden.merchants import service
from paywarden.merchants.errors import BadWebhookSignature
from paywarden.webhooks.signing import signature

log = get_logger(__name__)

PATH = "/dev/webhook-receiver"
TOLERANCE_SECONDS = 300  # Standard Webhooks' advice against replays

router = APIRouter(prefix=PATH, route_class=DbRoute, include_in_schema=False)


def receiver_url(base_url: str, merchant_id: uuid.UUID) -> str:
    return f"{base_url}{PATH}/{merchant_id}"


@router.post("/{merchant_id}")
async def receive(merchant_id: uuid.UUID, request: Request, db: Session) -> dict[str, object]:
    body = await request.body()
    msg_id = request.headers.get("webhook-id", "")
    stamp = request.headers.get("webhook-timestamp", "")
    given = request.headers.get("webhook-signature", "").split()
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
        raise BadWebhookSignature()
    expected = signature(await service.webhook_secret(db, merchant_id), msg_id, int(stamp), body)
    # Any of the space-separated signatures may match (the secret's rotation sends two).
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in given):
        raise BadWebhookSignature()
    log.info("dev_webhook_received", merchant=str(merchant_id), webhook_id=msg_id)
    return {"received": True, "webhook_id": msg_id}
