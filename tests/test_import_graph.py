"""The import graph of paywarden/, read with `ast` (nothing is imported): no cycle between
files, none between the gateway's packages, and imports run the way DESIGN.md's table says.

Every import counts, at the top of a file or late inside a function; imports under
`if TYPE_CHECKING:` do not: the type checker reads them, the running code never does (a service
annotating the process's `GatewayContext`, say).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "paywarden"

GATEWAY = frozenset(
    {"orders", "webhooks", "chain", "sweeps", "merchants", "addresses", "checkout", "incidents"}
)
CARDS = frozenset(
    {
        "clients",
        "client_admin",
        "client_ledger",
        "client_state",
        "web_users",
        "plans",
        "subscriptions",
        "wallets",
        "topups",
        "cards",
        "card_transactions",
        "b2b",
        "banners",
        "support",
        "lookup",
        "card_transaction_review",
        "cards_dashboard",
        "card_stats",
        "treasury",
        "notifications",
    }
)
SHARED = frozenset({"operators", "audit"})  # operators' accounts and the audit log, both products
UIS = frozenset({"console", "clientapp", "bot"})  # the bot: the clients' UI in Telegram
ENDPOINTS = frozenset({"endpoints", "admin_endpoints"})
REPOSITORIES = frozenset({"repository"})


def package(module: str) -> str:
    """`paywarden.orders.service` -> `orders`; a top-level module is its own: `config`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def file_name(module: str) -> str:
    return module.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Rule:
    who: frozenset[str]  # the packages the row is about
    may: frozenset[str] | None  # the only packages they import besides their own (None: any)
    never: Callable[[str], bool]  # an imported module the row forbids
    row: str  # the table's row, for the failure message


def nothing(_: str) -> bool:
    return False


# DESIGN.md, "Which way imports run": one row each.
RULES = [
    Rule(frozenset({"kit"}), frozenset({"config"}), nothing, "kit/ -> only config"),
    Rule(frozenset({"models"}), frozenset({"kit"}), nothing, "models/ -> only kit/"),
    Rule(
        GATEWAY,
        GATEWAY | SHARED | {"kit", "models", "tron", "config"},
        nothing,
        "gateway -> kit/, models/, tron/, operators/audit, each other (acyclic); never cards",
    ),
    Rule(
        CARDS,
        None,
        lambda m: package(m) in GATEWAY and file_name(m) in REPOSITORIES,
        "cards -> gateway services, never gateway repositories",
    ),
    # config: the settings, which kit/ reads too; no domain.
    Rule(
        frozenset({"tron", "issuer", "telegram"}),
        frozenset({"kit", "config"}),
        nothing,
        "tron/, issuer/, telegram/ -> kit/",
    ),
    Rule(
        UIS,
        None,
        lambda m: file_name(m) in ENDPOINTS | REPOSITORIES,
        "console/, clientapp/ -> services and schemas, never endpoints or repositories",
    ),
    # reconcile/ reads across both products (a top-level composition, like worker.py): it
    # calls services and keeps its own SQL, and only cli.py starts it.
    Rule(
        frozenset({"reconcile"}),
        None,
        lambda m: file_name(m) in ENDPOINTS | REPOSITORIES,
        "reconcile/ -> services, models, tron/; never endpoints or other repositories",
    ),
    Rule(
        GATEWAY
        | CARDS
        | SHARED
        | UIS
        | {"kit", "models", "tron", "issuer", "telegram", "worker", "app"},
        None,
        lambda m: package(m) == "reconcile",
        "nothing imports reconcile/ but cli.py",
    ),
    # "Events, not call-backs": the outbox tells the orders through the bus (kit/events).
    Rule(
        frozenset({"webhooks"}),
        None,
        lambda m: package(m) == "orders",
        "webhooks/ (the outbox) never imports the orders",
    ),
]
# The orders' rules publish events; their subscribers are wired by paywarden/subscribers.py.
# These files never reach the outbox nor the top-ups, not even through another module.
ORDERS_WRITE_SIDE = ("paywarden.orders.service", "paywarden.orders.batch")
NOT_FROM_ORDERS_WRITE_SIDE = ("paywarden.webhooks", "paywarden.topups")

# Known departures, each with its reason; a new one fails the test. Leave, never widen.
ALLOWED_EDGES = {
    # The merchant detail API renders its 10 latest orders as the merchant API does
    # (`PaymentOut`), while the orders depend on merchants (API key, state): a cycle until that
    # view is composed above both packages.
    ("paywarden.merchants.endpoints", "paywarden.orders.schemas"),
}
# console/ is reworked for issue 16 item 4 (the console calls services): what it still imports
# against its row. Strike each off as it goes.
ALLOWED_CONSOLE_EDGES: set[tuple[str, str]] = set()
# console/__init__.py and the modules it installs import each other (issue 16 item 4).
ALLOWED_FILE_CYCLES = [
    frozenset(
        {
            "paywarden.console",
            "paywarden.console.fallback",
            "paywarden.console.i18n",
            "paywarden.console.web",
        }
    )
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The paywarden modules `module` imports (for `from package import name`: the submodule
    when `name` is one, else the package)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("paywarden")]
            yield from filter(None, map(known, names))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if not base.startswith("paywarden"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                target = full if full in modules else known(base)
                if target:
                    yield target


@cache
def graph() -> dict[str, frozenset[str]]:
    modules = _modules()
    return {
        m: frozenset(t for t in _imported(m, path, modules) if t != m)
        for m, path in modules.items()
    }


def _cycles(edges: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_graph_sees_late_imports_and_skips_type_checking_ones() -> None:
    edges = graph()
    # chain/service.py imports the orders at the top; checkout's service too.
    assert "paywarden.orders.service" in edges["paywarden.chain.service"]
    # Late (inside a function): merchants.service's detail reads the incidents.
    assert "paywarden.incidents.service" in edges["paywarden.merchants.service"]
    # Type-only: orders.service annotates the process's GatewayContext.
    assert "paywarden.context" not in edges["paywarden.orders.service"]


def test_no_import_cycle_between_files() -> None:
    cycles = [c for c in _cycles(graph()) if c not in ALLOWED_FILE_CYCLES]
    assert not cycles, [sorted(c) for c in cycles]


def test_no_import_cycle_between_gateway_packages() -> None:
    edges: dict[str, set[str]] = {p: set() for p in GATEWAY}
    for source, targets in graph().items():
        for target in targets:
            if (source, target) in ALLOWED_EDGES:
                continue
            own, theirs = package(source), package(target)
            if own in GATEWAY and theirs in GATEWAY and own != theirs:
                edges[own].add(theirs)
    cycles = _cycles({p: frozenset(t) for p, t in edges.items()})
    assert not cycles, [sorted(c) for c in cycles]


def _violations() -> list[str]:
    found = []
    for source, targets in sorted(graph().items()):
        for target in sorted(targets):
            if (source, target) in ALLOWED_EDGES | ALLOWED_CONSOLE_EDGES:
                continue
            own, theirs = package(source), package(target)
            for rule in RULES:
                if own not in rule.who or own == theirs:
                    continue
                barred = rule.may is not None and theirs not in rule.may
                if barred or rule.never(target):
                    found.append(f"{source} -> {target}: {rule.row}")
    return found


def test_imports_run_the_way_the_table_says() -> None:
    assert not _violations()


def test_allow_lists_hold_only_what_is_still_there() -> None:
    """An allowed edge that is gone is struck off, so the list only shrinks."""
    edges = {(s, t) for s, targets in graph().items() for t in targets}
    assert not (ALLOWED_EDGES | ALLOWED_CONSOLE_EDGES) - edges
    assert all(c in _cycles(graph()) for c in ALLOWED_FILE_CYCLES)


def _reachable(start: str) -> set[str]:
    edges, seen, todo = graph(), set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(edges.get(module, ()))
    return seen


def test_the_orders_rules_never_reach_the_outbox_or_the_top_ups() -> None:
    for start in ORDERS_WRITE_SIDE:
        reached = sorted(m for m in _reachable(start) if m.startswith(NOT_FROM_ORDERS_WRITE_SIDE))
        assert not reached, f"{start} reaches {reached}"


def test_importing_the_orders_loads_neither_the_outbox_nor_the_top_ups() -> None:
    """The same, as Python does it: a fresh interpreter imports the orders' service."""
    script = (
        "import sys, paywarden.orders.service\n"
        "print(sorted(m for m in sys.modules if m.startswith(('paywarden.webhooks', "
        "'paywarden.topups'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
