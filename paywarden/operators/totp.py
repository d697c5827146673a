"""TOTP (RFC 6238: SHA1, 6 digits, 30 s) as Google Authenticator reads it, and backup codes."""

from __future__ import annotations

import hmac
import secrets
import time

import pyotp
import segno

ISSUER = "PayWarden"
STEP_SECONDS = 30
BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def new_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret, digits=6, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")


def is_totp_shape(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step whose code equals `code`, looking one step either side for clock drift."""
    if not is_totp_shape(code):
        return None
    totp = pyotp.TOTP(secret, digits=6, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_backup_codes() -> list[str]:
    """Ten codes of 16 characters (~79 bits each), so a SHA-256 of each is a safe thing to store."""
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalize_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())
