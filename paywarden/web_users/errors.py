"""Errors of web sign-ups, rendered `{"error", "code"}`."""

from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    message = "An account with this email already exists"


class EmailUnavailable(AppError):
    status = 503
    code = "EMAIL_UNAVAILABLE"
    message = "Verification email cannot be sent right now; try again later"


class TokenInvalid(AppError):
    code = "TOKEN_INVALID"
    message = "The verification link is invalid"


class TokenExpired(AppError):
    code = "TOKEN_EXPIRED"
    message = "The verification link has expired; sign up again to get a new one"


class InvalidCredentials(AppError):
    status = 401
    code = "INVALID_CREDENTIALS"
    message = "Invalid email or password"


class EmailNotVerified(AppError):
    status = 403
    code = "EMAIL_NOT_VERIFIED"
    message = "Confirm your email first: open the link we sent you"


class AccountDisabled(AppError):
    status = 403
    code = "ACCOUNT_DISABLED"
    message = "This account is disabled"


class ClientUnauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Sign in first"


class WebUserNotFound(NotFound):
    message = "Web user not found"


class WebUserNotVerified(Conflict):
    code = "INVALID_STATE"
    message = "This login cannot be enabled before its email is verified"


class EmptyWebUserUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"
