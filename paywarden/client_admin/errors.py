"""Errors of the operators' client actions, rendered `{"error", "code"}`."""

from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, Forbidden, NotFound


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"


class SupportOwnerNotFound(NotFound):
    message = "Support owner not found: no such operator"


class DemoBalanceDisabled(Forbidden):
    code = "DEMO_DISABLED"
    message = "Demo balances cannot be set in production"


class BelowReserved(Conflict):
    code = "BELOW_RESERVED"
    message = "The balance cannot be set below the wallet's reserved (held) amount"


class IdempotencyKeyMismatch(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was used for a different top-up"
