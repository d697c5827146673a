from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class Unbalanced(AppError):
    code = "LEDGER_UNBALANCED"
    message = "Ledger postings do not sum to zero per currency"


class InvalidPosting(AppError):
    code = "INVALID_POSTING"
    message = "Invalid ledger posting"


class InsufficientFunds(Conflict):
    code = "INSUFFICIENT_FUNDS"
    message = "Not enough available balance in the wallet"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This idempotency key was used for a different ledger transaction"


class AccountNotFound(NotFound):
    message = "Ledger account not found"


class HoldNotFound(NotFound):
    message = "Hold not found"


class HoldNotActive(Conflict):
    code = "HOLD_NOT_ACTIVE"
    message = "The hold is already posted or voided"


class HoldExceeded(AppError):
    code = "HOLD_AMOUNT_EXCEEDED"
    message = "Cannot post more than the held amount"
