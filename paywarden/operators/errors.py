from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict


class InvalidPassword(AppError):
    status = 401
    code = "INVALID_PASSWORD"
    message = "Invalid password"
    keep_changes = True  # the failed attempt is audited


class TotpRequired(AppError):
    status = 401
    code = "TOTP_REQUIRED"
    message = "A code from your authenticator app (or a backup code) is required"


class InvalidTotp(AppError):
    status = 401
    code = "INVALID_TOTP"
    message = "Invalid or already used code"
    keep_changes = True


class SetupTokenInvalid(AppError):
    status = 401
    code = "SETUP_TOKEN_INVALID"
    message = "The 2FA setup has expired or is unknown; sign in again"


class AdminUnauthorized(AppError):
    status = 401
    code = "ADMIN_UNAUTHORIZED"
    message = "Sign-in required"


class AdminTokenInvalid(AppError):
    status = 401
    code = "ADMIN_TOKEN_INVALID"
    message = "Session is invalid, expired or revoked; sign in again"


class BootstrapTokenInvalid(AppError):
    status = 401
    code = "ADMIN_BOOTSTRAP_TOKEN_INVALID"
    message = "Invalid X-Admin-Token"
    keep_changes = True


class AlreadyBootstrapped(Conflict):
    code = "ALREADY_BOOTSTRAPPED"
    message = "An operator already exists; sign in instead"


class OperatorEmailTaken(Conflict):
    code = "OPERATOR_EMAIL_TAKEN"
    message = "An operator with this email already exists"


class PrimaryOperatorProtected(Conflict):
    code = "PRIMARY_OPERATOR_PROTECTED"
    message = "The primary operator cannot be deleted"
