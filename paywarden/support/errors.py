from __future__ import annotations

from paywarden.kit.errors import AppError


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"
