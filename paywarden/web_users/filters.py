"""What the web users list is narrowed by (repository, API and console)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebUserFilter:
    search: str | None = None
    status: str | None = None
