"""The report: a line per difference for a person, one JSON document for a program."""

from __future__ import annotations

import json
from typing import Any

from paywarden.reconcile.findings import Difference, Report


def as_json(report: Report) -> str:
    document: dict[str, Any] = {
        "verdict": "ok" if report.ok else "differences",
        "checks": {
            c.name: {"checked": c.checked, "differences": c.failed, "notes": len(c.notes)}
            for c in report.checks
        },
        "differences": [d.as_json() for d in report.differences],
        "notes": [n.as_json() for c in report.checks for n in c.notes],
    }
    return json.dumps(document, indent=2, default=str)


def _line(d: Difference) -> str:
    ids = " ".join(f"{k}={v}" for k, v in d.ids.items())
    return f"{d.kind}: {ids} expected {d.expected} actual {d.actual}"


def as_text(report: Report) -> list[str]:
    lines = [_line(d) for d in report.differences]
    lines += [f"note {_line(n)}" for c in report.checks for n in c.notes]
    for c in report.checks:
        more = f" ({c.dropped} more not listed)" if c.dropped else ""
        lines.append(f"{c.name}: {c.checked} checked, {c.failed} difference(s){more}")
    lines.append("reconcile: " + ("every check holds" if report.ok else "differences found"))
    return lines
