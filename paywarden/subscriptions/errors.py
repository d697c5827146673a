from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class PlanNotSelectable(AppError):
    status = 403
    code = "PLAN_NOT_SELECTABLE"
    message = "This plan cannot be selected"


class PlanArchived(Conflict):
    code = "INVALID_STATE"
    message = "An archived plan cannot be assigned"


class PlanNotFound(NotFound):
    message = "Plan not found"


class InsufficientFunds(AppError):
    status = 402
    code = "INSUFFICIENT_FUNDS"
    message = "Not enough funds in the EUR or USD wallet to pay the plan's monthly fee"
