"""What a reconciliation finds: differences, per-check counts, and the verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Differences kept per check; past it they are counted, not kept (memory stays bounded).
KEEP = 1000

Progress = Callable[[str, int], None]  # (check, rows or blocks checked so far)


@dataclass(frozen=True)
class Difference:
    kind: str  # order_amount_mismatch, transfer_missing, ...
    ids: dict[str, str]  # what to look at: order_id, tx_hash, sweep_id, ...
    expected: Any = None
    actual: Any = None
    # A note is reported but does not fail the run (a figure we cannot judge alone).
    note: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "ids": self.ids}
        out["expected"], out["actual"] = self.expected, self.actual
        if self.note:
            out["note"] = True
        return out


@dataclass
class Check:
    name: str
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    notes: list[Difference] = field(default_factory=list)
    dropped: int = 0  # differences past KEEP, counted only

    def add(self, kind: str, ids: dict[str, Any], expected: Any = None, actual: Any = None) -> None:
        if len(self.differences) >= KEEP:
            self.dropped += 1
            return
        self.differences.append(
            Difference(kind, {k: str(v) for k, v in ids.items()}, expected, actual)
        )

    def note(
        self, kind: str, ids: dict[str, Any], expected: Any = None, actual: Any = None
    ) -> None:
        self.notes.append(
            Difference(kind, {k: str(v) for k, v in ids.items()}, expected, actual, note=True)
        )

    def tick(self, rows: int, progress: Progress) -> None:
        self.checked += rows
        progress(self.name, self.checked)

    @property
    def failed(self) -> int:
        return len(self.differences) + self.dropped


@dataclass
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)

    @property
    def differences(self) -> list[Difference]:
        return [d for c in self.checks for d in c.differences]
