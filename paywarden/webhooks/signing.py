"""Standard Webhooks signatures: HMAC-SHA256 over "<id>.<timestamp>.<body>", base64, `v1,`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>`, keyed with the UTF-8 bytes of the merchant's webhook_secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a stored event payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
