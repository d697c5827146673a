"""What the B2B profile list is narrowed by (repository, API and console)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileFilter:
    status: str | None = None
    group_id: uuid.UUID | None = None
