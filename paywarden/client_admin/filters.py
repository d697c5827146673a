"""What the clients list is narrowed by (repository, API and console)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientFilter:
    search: str | None = None
    status: str | None = None
    plan_id: uuid.UUID | None = None
