"""Refusals of the issuer's inbound routes and the inbox's admin actions."""

from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, InvalidBody, NotFound


class UnknownIssuer(NotFound):
    message = "No such issuer"


class BadSignature(AppError):
    status = 401
    code = "INVALID_SIGNATURE"
    message = "The request's signature is missing, wrong or stale"


class MalformedIssuerRequest(InvalidBody):
    message = "Malformed issuer request"


class EventNotFound(NotFound):
    message = "Issuer event not found"


class EventAlreadyProcessed(Conflict):
    code = "EVENT_ALREADY_PROCESSED"
    message = "The event was processed: replaying it would change nothing"


class NotReady(Exception):
    """An event's prerequisite is missing (a refund before its settlement): retried later."""


class EventRejected(Exception):
    """An event that cannot be applied as it is (e.g. a card we do not know): recorded failed."""
