from __future__ import annotations

from paywarden.kit.errors import ValidationFailed


class TopupAmountOutOfRange(ValidationFailed):
    message = "A top-up is between 1 USDT and the configured maximum"
