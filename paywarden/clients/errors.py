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
