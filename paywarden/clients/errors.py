from __future__ import annotations

from paywarden.kit.errors import AppError, NotFound, ValidationFailed


class ClientNotFound(NotFound):
    message = "Client not found"


class ClientBanned(AppError):
    status = 403
    code = "CLIENT_BANNED"
    message = "This account is banned: it can read but change nothing"


class InvalidExternalUserId(ValidationFailed):
    message = "external_user_id must be tg_<telegram user id> or web_<id>"


# Who is calling the client API (paywarden/clients/auth.py).


class ClientUnauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Sign in first: X-Bot-Token, X-Telegram-Init-Data or the client_token cookie"


class BotTokenInvalid(AppError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Invalid X-Bot-Token"


class InitDataInvalid(AppError):
    status = 401
    code = "INIT_DATA_INVALID"
    message = "Invalid Telegram init data"


class InitDataExpired(AppError):
    status = 401
    code = "INIT_DATA_EXPIRED"
    message = "Telegram init data has expired: reopen the Mini App"


class ExternalUserIdRequired(ValidationFailed):
    message = "X-Bot-Token calls name the client: ?externalUserId= or external_user_id in the body"
