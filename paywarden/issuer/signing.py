"""The issuer's request signature: `X-Issuer-Signature: v1=<hex HMAC-SHA256>` over
`"{X-Issuer-Timestamp}.{raw body}"`, the timestamp in unix seconds.

The sandbox signs with it; the sandbox adapter verifies with it. Several `v1=` entries may be
given (comma-separated, the issuer rotating its secret), and any configured secret may match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from paywarden.issuer.base import InvalidSignature

TIMESTAMP_HEADER = "X-Issuer-Timestamp"
SIGNATURE_HEADER = "X-Issuer-Signature"
TOLERANCE_SECONDS = 300  # a signed request older or newer than this is refused (replays, skew)
MAX_ENTRIES = 8  # `v1=` entries and others in one signature header: bounded work per request
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits (12: the year 33658)
_V1 = re.compile(r"v1=([0-9a-fA-F]{64})")


def mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secrets: Iterable[str], body: bytes, timestamp: int) -> dict[str, str]:
    """Headers signing `body` with every secret given (one `v1=` entry each)."""
    entries = ",".join(f"v1={mac(secret, timestamp, body)}" for secret in secrets)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: entries}


def verify(headers: Mapping[str, str], body: bytes, now: datetime, secrets: Iterable[str]) -> None:
    """Raises InvalidSignature unless one `v1=` entry matches one secret, in time. Any header
    not in the exact form (absent, non-ASCII, a timestamp that is not 1-12 ASCII digits, a MAC
    that is not 64 hex digits) is a bad signature like any other, never an error of ours."""
    lowered = {key.lower(): value for key, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    raw_signature = lowered.get(SIGNATURE_HEADER.lower())
    if not raw_timestamp or not raw_signature:
        raise InvalidSignature("missing signature headers")
    # Not int() alone: it takes '-5', '+5', '1_0', '١٢٣' (Arabic-Indic digits) and numbers too
    # big for a float or a datetime.
    if not _TIMESTAMP.fullmatch(raw_timestamp.strip(" \t")):
        raise InvalidSignature("malformed timestamp")
    timestamp = int(raw_timestamp.strip(" \t"))
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the tolerance")
    entries = [entry.strip(" \t") for entry in raw_signature.split(",")]
    if len(entries) > MAX_ENTRIES:
        raise InvalidSignature("too many signature entries")
    # Other schemes (v2=...) are skipped; a malformed v1 entry is never compared (compare_digest
    # refuses non-ASCII text).
    given = [match[1].lower() for match in map(_V1.fullmatch, entries) if match]
    if not given:
        raise InvalidSignature("no v1 signature")
    # Every pair is compared (constant time each): which one matched leaks nothing useful.
    matched = False
    for secret in secrets:
        expected = mac(secret, timestamp, body)
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("signature mismatch")
