"""Issuer credentials of B2B profiles at rest: Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from B2B_ENCRYPTION_KEY (comma-separated keys: the first encrypts, all decrypt,
so a key can be rotated). Development without it derives a key from SECRET_KEY so the pool
works out of the box; production has no fallback (uploads answer 503 B2B_KEY_MISSING), because
a key tied to SECRET_KEY would make rotating that secret lose every profile.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from paywarden.b2b.errors import B2bKeyMissing
from paywarden.config import Settings

_DERIVATION_LABEL = b"paywarden/b2b-profiles/v1\x00"


class ProfileVault:
    """Encrypts a profile's secret fields as one JSON blob, and reads it back."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, secret: Mapping[str, Any]) -> str:
        blob = json.dumps(dict(secret), separators=(",", ":"), sort_keys=True).encode()
        return self._fernet.encrypt(blob).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except InvalidToken as exc:  # a key missing from B2B_ENCRYPTION_KEY, or a damaged row
            raise ValueError("the profile's secret cannot be decrypted with the keys set") from exc

    def __repr__(self) -> str:  # keys stay out of logs
        return "ProfileVault(***)"


def derived_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(_DERIVATION_LABEL + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def vault_for(settings: Settings) -> ProfileVault:
    """The vault of this deployment; 503 B2B_KEY_MISSING in production without a key."""
    if settings.b2b_encryption_key is not None:
        raw = settings.b2b_encryption_key.get_secret_value()
        return ProfileVault([k.strip().encode("ascii") for k in raw.split(",") if k.strip()])
    if settings.is_production:
        raise B2bKeyMissing()
    return ProfileVault([derived_key(settings.signing_key())])
