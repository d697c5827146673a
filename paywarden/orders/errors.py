from __future__ import annotations

from paywarden.kit.errors import Conflict, NotFound


class OrderNotFound(NotFound):
    message = "Order not found"


class DuplicateExternalId(Conflict):
    code = "DUPLICATE_EXTERNAL_ID"
    message = "An order with this external_id exists with a different body"


class InvalidState(Conflict):
    code = "INVALID_STATE"
    message = "Order is not eligible for this action"


class SweepDisabled(Conflict):
    code = "SWEEP_DISABLED"
    message = "Sweeping is not enabled on this deployment"
