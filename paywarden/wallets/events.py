"""What the ledger publishes on the bus (`kit/events`), for the client's message: a client
wallet fell below the client's `low_balance_threshold`. Published by `post` in the transaction
of the posting, only on the crossing (balance before >= threshold > balance after): one message
per fall, none per purchase while below; a wallet back at or above the threshold re-arms it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

LOW_BALANCE = "wallet.low_balance"


@dataclass(frozen=True)
class LowBalance:
    transaction_id: uuid.UUID  # the ledger transaction that crossed
    client_id: uuid.UUID
    currency: str
    balance: int  # minor units, after the transaction
    threshold: int
    type: str = LOW_BALANCE
