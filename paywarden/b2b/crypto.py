"""Issuer credentials of B2B profiles at rest: Fernet (AES-128-CBC + HMAC-SHA256).

The keys: B2B_ENCRYPTION_KEY when set (an override: comma-separated keys, the first encrypts,
all decrypt), else the application's ENCRYPTION_KEYS (paywarden/kit/crypto.py), so one rotation
with `paywarden rekey` covers the profiles too. Development with neither derives a key from
SECRET_KEY (its own label, as before, so existing development profiles stay readable);
production has no fallback (uploads answer 503 B2B_KEY_MISSING; production requires
ENCRYPTION_KEYS anyway), because a key tied to SECRET_KEY would make rotating that secret lose
every profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from paywarden.b2b.errors import B2bKeyMissing
from paywarden.config import Settings
from paywarden.kit.crypto import KeySet, UndecryptableError, derive_key

_DERIVATION_LABEL = b"paywarden/b2b-profiles/v1\x00"


class ProfileVault:
    """Encrypts a profile's secret fields as one JSON blob, and reads it back."""

    def __init__(self, keys: list[bytes] | KeySet) -> None:
        self.keyset = keys if isinstance(keys, KeySet) else KeySet(keys)

    def encrypt(self, secret: Mapping[str, Any]) -> str:
        blob = json.dumps(dict(secret), separators=(",", ":"), sort_keys=True).encode()
        return self.keyset.encrypt_bytes(blob)

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self.keyset.decrypt_bytes(token))
        except UndecryptableError as exc:  # a key missing from the set, or a damaged row
            raise ValueError("the profile's secret cannot be decrypted with the keys set") from exc

    def __repr__(self) -> str:  # keys stay out of logs
        return "ProfileVault(***)"


def derived_key(secret_key: str) -> bytes:
    return derive_key(secret_key, _DERIVATION_LABEL)


def keyset_for(settings: Settings) -> KeySet | None:
    """B2B_ENCRYPTION_KEY, else ENCRYPTION_KEYS, else (development) the derived key; None in
    production without a key."""
    configured = settings.b2b_encryption_key or settings.encryption_keys
    if configured is not None:
        return KeySet.parse(configured.get_secret_value())
    if settings.is_production:
        return None
    return KeySet([derived_key(settings.signing_key())])


def vault_for(settings: Settings) -> ProfileVault:
    """The vault of this deployment; 503 B2B_KEY_MISSING in production without a key."""
    keyset = keyset_for(settings)
    if keyset is None:
        raise B2bKeyMissing()
    return ProfileVault(keyset)
