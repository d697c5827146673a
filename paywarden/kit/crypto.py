"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a set of keys.

The first key of a KeySet encrypts, every key decrypts: rotating means putting a new key first,
running `paywarden rekey` (every encrypted column re-encrypted under the first key), then
dropping the old key. ENCRYPTION_KEYS holds the application's set; development without it
derives one stable key from SECRET_KEY (production refuses to start without it, because a key
tied to SECRET_KEY would make rotating that secret lose every encrypted row).

Services reach the process's set through their session (`keys_of(session)`): the Database puts
it in each session's `info`, so no signature has to carry it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from paywarden.config import Settings

SESSION_KEY = "paywarden.keyset"  # where a session's info holds the KeySet
_APP_LABEL = b"paywarden/secrets-at-rest/v1\x00"


class UndecryptableError(ValueError):
    """A token no key of the set opens: a key missing from the set, or a damaged row."""


def parse_keys(raw: str) -> list[bytes]:
    """Comma-separated Fernet keys (url-safe base64 of 32 bytes); ValueError without echoing
    the value (it is a secret)."""
    keys = [part.strip().encode("ascii", errors="replace") for part in raw.split(",")]
    keys = [k for k in keys if k]
    if not keys:
        raise ValueError("no key given")
    for key in keys:
        try:
            decoded = base64.urlsafe_b64decode(key)
        except ValueError:
            decoded = b""
        if len(decoded) != 32:
            raise ValueError("each key must be a Fernet key (url-safe base64 of 32 bytes)")
    return keys


def derive_key(secret: str, label: bytes = _APP_LABEL) -> bytes:
    """A Fernet key derived from a secret and a purpose label (development only)."""
    return base64.urlsafe_b64encode(hashlib.sha256(label + secret.encode()).digest())


class KeySet:
    """Fernet keys, newest first: the first encrypts, all decrypt. Its repr shows no key."""

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise ValueError("a KeySet needs at least one key")
        fernets = [Fernet(k) for k in keys]
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self._count = len(fernets)

    @classmethod
    def parse(cls, raw: str) -> KeySet:
        return cls(parse_keys(raw))

    def __repr__(self) -> str:
        return f"KeySet({self._count} key{'s' if self._count != 1 else ''}, ***)"

    def encrypt(self, plaintext: str) -> str:
        return self._all.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UndecryptableError("a secret cannot be decrypted with the keys set") from exc

    def encrypt_bytes(self, plaintext: bytes) -> str:
        return self._all.encrypt(plaintext).decode("ascii")

    def decrypt_bytes(self, token: str) -> bytes:
        try:
            return self._all.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UndecryptableError("a secret cannot be decrypted with the keys set") from exc

    def is_current(self, token: str) -> bool:
        """True when the first key alone opens `token` (rekey leaves it as it is)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def rekey(self, token: str) -> str | None:
        """`token` re-encrypted under the first key, or None when it already is (idempotent).
        UndecryptableError when no key of the set opens it."""
        if self.is_current(token):
            return None
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise UndecryptableError("a secret cannot be decrypted with the keys set") from exc


def keyset_for(settings: Settings) -> KeySet:
    """ENCRYPTION_KEYS; in development without it, one key derived from SECRET_KEY."""
    if settings.encryption_keys is not None:
        return KeySet.parse(settings.encryption_keys.get_secret_value())
    if settings.is_production:  # the settings refuse this already; never derive in production
        raise RuntimeError("ENCRYPTION_KEYS must be set in production")
    return KeySet([derive_key(settings.signing_key())])


def keys_of(session: AsyncSession) -> KeySet:
    """The key set of the Database that made this session."""
    keyset = session.info.get(SESSION_KEY)
    if keyset is None:  # fail closed: never store a secret in the clear for want of a key
        raise RuntimeError("this session's Database was made without a key set")
    return keyset
