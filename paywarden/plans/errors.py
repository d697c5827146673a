from __future__ import annotations

from paywarden.kit.errors import AppError, Conflict, NotFound


class PlanNotFound(NotFound):
    message = "Plan not found"


class PlanNameTaken(Conflict):
    code = "PLAN_NAME_TAKEN"
    message = "Plan name already in use"


class DefaultPlanArchived(Conflict):
    code = "INVALID_STATE"
    message = "The default plan cannot be archived: make another plan the default first"


class ArchivedPlanDefault(Conflict):
    code = "INVALID_STATE"
    message = "An archived plan cannot be the default: unarchive it first"


class EmptyUpdate(AppError):
    code = "EMPTY_UPDATE"
    message = "No fields to update"


class FxRateNotSet(Conflict):
    code = "FX_RATE_NOT_SET"
    message = "No EUR/USD rate has been set yet"
