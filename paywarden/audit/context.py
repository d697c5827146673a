"""Who is acting, and from where: what every audited service call is given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # the operator's email, "cli", "system" or "anonymous"
    operator_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None


CLI = Actor(label="cli")
SYSTEM = Actor(label="system")
