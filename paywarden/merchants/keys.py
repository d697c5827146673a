"""Merchant API keys: `pw_live_` + 36 base62 characters from a CSPRNG (~214 bits).

Only the SHA-256 of a key and its 12-character prefix are stored; the key is shown once.
"""

from __future__ import annotations

import secrets
import string

from paywarden.kit.security import sha256_hex

PREFIX = "pw_live_"
_BASE62 = string.digits + string.ascii_letters
DISPLAY_PREFIX_LENGTH = 12


def new_api_key() -> str:
    return PREFIX + "".join(secrets.choice(_BASE62) for _ in range(36))


def key_hash(key: str) -> str:
    return sha256_hex(key)


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
