from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class MerchantNotFound(NotFound):
    message = "Merchant not found"


class MerchantNameTaken(Conflict):
    code = "MERCHANT_NAME_TAKEN"
    message = "Merchant name already in use"


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"


class InvalidApiKey(AppError):
    status = 401
    code = "INVALID_API_KEY"
    message = "Missing or invalid API key"


class MerchantSuspended(AppError):
    status = 403
    code = "MERCHANT_SUSPENDED"
    message = "Merchant is suspended and cannot create orders"


class InternalMerchant(Conflict):
    code = "INVALID_STATE"
    message = "The Cards product's internal merchant is managed by PayWarden and cannot be edited"


class BadWebhookSignature(AppError):
    status = 401
    code = "INVALID_SIGNATURE"
    message = "The webhook's signature is missing, wrong or stale"
