"""The soak's findings: the invariants read from PostgreSQL and the receiver, `paywarden
reconcile`, and the printed report with its verdict against the bar."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

import order_create
from sqlalchemy.ext.asyncio import AsyncEngine

from soak.load import Stats
from soak.platform import Platform, rows, scalar
from soak.receiver import Receiver

MEMORY_GROWTH = 1.20  # end RSS at most 20 % over the 2-minute mark
BARRED = ("api", "worker", "proxy")  # the devnet and the sandbox keep their state in memory


@dataclass
class Findings:
    confirmed_orders: int = 0
    lost_webhooks: list[str] = field(default_factory=list)  # order.confirmed never acknowledged
    unannounced: int = 0  # confirmed orders without an order.confirmed event at all
    dead_lettered: int = 0
    deliveries: int = 0
    double_credits: int = 0
    credited: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)  # queues not drained
    ledger_check: int = 0  # `paywarden ledger check` exit code
    reconcile: str = ""  # "ok", "differences", "cannot run", "not available"
    reconcile_out: str = ""


def percentile(values: list[float], q: float) -> float:
    return order_create.percentile(values, q) if values else float("nan")


async def examine(db: AsyncEngine, receiver: Receiver, left: dict[str, int]) -> Findings:
    f = Findings(left=left)
    f.orders = {
        s: int(n)
        for s, n in await rows(
            db, "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status"
        )
    }
    confirmed = await rows(
        db,
        "SELECT o.id, e.id FROM orders o LEFT JOIN webhook_events e ON e.order_id = o.id "
        "AND e.type = 'order.confirmed' WHERE o.status IN ('confirmed', 'completed') "
        "AND o.merchant_id IN (SELECT id FROM merchants WHERE webhook_url IS NOT NULL)",
    )
    f.confirmed_orders = len({order for order, _ in confirmed})
    f.unannounced = sum(1 for _, event in confirmed if event is None)
    f.lost_webhooks = [
        str(event) for _, event in confirmed if event is not None and not receiver.acked[str(event)]
    ]
    f.dead_lettered = int(
        await scalar(db, "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'") or 0
    )
    f.deliveries = int(await scalar(db, "SELECT count(*) FROM webhook_deliveries") or 0)
    f.double_credits = int(
        await scalar(
            db,
            "SELECT count(*) FROM (SELECT reference_id FROM ledger_transactions "
            "WHERE kind = 'topup' GROUP BY reference_id HAVING count(*) > 1) twice",
        )
        or 0
    )
    f.double_credits += int(
        await scalar(
            db, "SELECT count(*) FROM topups WHERE status = 'credited' AND transaction_id IS NULL"
        )
        or 0
    )
    f.credited = int(await scalar(db, "SELECT count(*) FROM topups WHERE status = 'credited'") or 0)
    return f


def run_cli(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(order_create.BIN / "paywarden"), *args],
        env=platform.worker_env,
        cwd=platform.cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def reconcile(platform: Platform, f: Findings) -> None:
    f.ledger_check = run_cli(platform, "ledger", "check").returncode
    probe = run_cli(platform, "reconcile", "--help")
    if probe.returncode != 0 and "No such command" in probe.stdout + probe.stderr:
        f.reconcile = "not available"
        return
    done = run_cli(platform, "reconcile", "--json")
    f.reconcile = {0: "ok", 1: "differences"}.get(done.returncode, "cannot run")
    f.reconcile_out = (done.stdout or done.stderr).strip()


def _rss(proc: Any, label: str) -> str:
    kb = proc.rss_kb.get(label)
    return f"{kb / 1024:7.1f}" if kb else "      -"


def print_report(
    args: Any,
    stats: Stats,
    receiver: Receiver,
    platform: Platform,
    f: Findings,
    mark: float | None,
    redelivered: int,
) -> bool:
    p = print
    p("\n== requests by outcome (conn_kill: cut by a kill, allowed; 5xx, conn_error: failures)")
    for key in sorted(stats.outcomes):
        p(f"  {key:34s} {stats.outcomes[key]:7d}")
    p(f"== kills {sum(stats.kills.values())} ({_counts(stats.kills)}), reorgs {stats.reorgs}")
    p(f"== payments on the devnet: {_counts(stats.payments)}")
    p(f"== top-ups: {stats.topups['created']} created, {f.credited} credited")
    p(f"== cards: {_counts(stats.cards)}; issuer events sent again after a kill: {redelivered}")
    p(f"== orders: {', '.join(f'{k} {v}' for k, v in f.orders.items())}")
    p(
        f"== webhooks: {receiver.requests} requests to the receiver ({receiver.failed} failed on "
        f"purpose, {receiver.slow} slow, {receiver.bad_signature} bad signatures); "
        f"{len(receiver.acked)} distinct acknowledged, {receiver.duplicates} duplicates; "
        f"{f.deliveries} deliveries, {f.dead_lettered} dead-lettered"
    )
    p(
        f"   order.confirmed: {f.confirmed_orders} confirmed orders, {len(f.lost_webhooks)} lost, "
        f"{f.unannounced} without an event"
    )
    for name, values in (("order creation", stats.order_ms), ("authorization", stats.authorize_ms)):
        p(
            f"== {name}: n={len(values)}  p50 {percentile(values, 0.5):.1f} ms  "
            f"p95 {percentile(values, 0.95):.1f} ms  p99 {percentile(values, 0.99):.1f} ms"
        )
    label = f"{mark:.0f}s" if mark else "mark"
    p(f"== RSS MB         start  {label:>6s}     end")
    memory_ok = True
    compared = set()
    for proc in platform.sup.procs.values():
        two, end = proc.rss_kb.get("mark"), proc.rss_kb.get("end")
        note = ""
        # Only a process that lived the whole run says anything about growth: one restarted
        # after the mark is new, and one restarted shortly before it was still warming up when
        # the mark was read (a CI run read a worker at 12 MB there and called it growing).
        if proc.restarted_at:
            note = " (restarted during the run: not compared)"
        elif proc.name.startswith(BARRED) and two and end:
            compared.add(proc.name.rstrip("0123456789"))
            if end > two * MEMORY_GROWTH:
                memory_ok = False
                note += "  GROWS"
        if not proc.name.startswith(BARRED):
            note += " (state in memory by design)"
        p(f"  {proc.name:10s} {_rss(proc, 'start')} {_rss(proc, 'mark')} {_rss(proc, 'end')}{note}")
    p(f"== queues left after the drain: {f.left}")
    p(f"== ledger check exit {f.ledger_check}; reconcile: {f.reconcile}")
    if f.reconcile_out:
        p(_short(f.reconcile_out))
    bar = {
        "zero reconcile differences": f.reconcile == "ok" and f.ledger_check == 0,
        "zero lost webhooks": not f.lost_webhooks and not f.unannounced,
        "zero double credits": f.double_credits == 0,
        "zero 5xx / unexplained connection errors": stats.failures() == 0,
        # Measured on at least a replica and a worker that lived from the mark to the end.
        "memory flat (end within 20 % of the mark)": memory_ok and {"api", "worker"} <= compared,
        "queues drained": not any(f.left.values()),
    }
    p("== the bar")
    for name, ok in bar.items():
        p(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if f.reconcile == "not available":
        p("  reconcile: not available (`paywarden reconcile` is not in this build)")
    verdict = all(bar.values())
    p(f"== verdict: {'PASS' if verdict else 'FAIL'}")
    return verdict


def _counts(counter: Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def _short(out: str) -> str:
    """The reconcile report in a few lines: each check's counts, then every difference."""
    try:
        data = json.loads(out)
        checks, notes = data["checks"], data.get("notes", [])
    except (ValueError, KeyError, TypeError):
        return out[-4000:]
    lines = [
        "   "
        + ", ".join(
            f"{name} {c.get('checked')} checked/{c.get('differences')} differences"
            for name, c in checks.items()
        ),
        f"   notes: {len(notes)} ({', '.join(sorted({n.get('kind', '?') for n in notes}))})",
    ]
    for diff in data.get("differences", [])[:50]:
        lines.append("   difference: " + json.dumps(diff, default=str)[:400])
    return "\n".join(lines)
