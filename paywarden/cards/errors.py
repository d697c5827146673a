"""Refusals of the cards domain (issue, lifecycle, details), each with its machine code."""

from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class CardNotFound(NotFound):
    message = "Card not found"


class CardsDisabled(AppError):
    status = 403
    code = "CARDS_DISABLED"
    message = "Card creation is disabled for this account"


class SubscriptionInactive(Conflict):
    # 409, not 403: paying the plan's fee (a top-up) lifts it, the request may then succeed.
    code = "SUBSCRIPTION_INACTIVE"
    message = "The subscription is not active: pay the plan's monthly fee first"


class CardLimitReached(Conflict):
    code = "CARD_LIMIT_REACHED"
    message = "The maximum number of active cards is reached"


class InsufficientFunds(AppError):
    status = 402
    code = "INSUFFICIENT_FUNDS"
    message = "Not enough funds in the EUR or USD wallet to pay the card issue fee"


class InvalidCardState(Conflict):
    code = "INVALID_STATE"
    message = "A closed card cannot be changed"


class IssuerUnavailable(AppError):
    status = 502
    code = "ISSUER_UNAVAILABLE"
    message = "The card issuer is unavailable, try again later"


class IssuerFailed(AppError):
    status = 502
    code = "ISSUER_ERROR"
    message = "The card issuer refused the request"


class CardsOff(AppError):
    # 503, not 403: the installation runs the gateway alone (ISSUER=none), no caller can lift it.
    status = 503
    code = "CARDS_DISABLED"
    message = "Cards are not available on this installation"
