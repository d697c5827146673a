"""The admin console: server-rendered pages under `/admin` on the admin API's services."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from paywarden.console import account_pages, auth_pages, gateway_pages
from paywarden.console.web import PREFIX, Me, templates

# (key, label, path, who sees it) in the order of the menu; only pages that exist.
NAV: list[tuple[str, str, str, Callable[[Me], bool] | None]] = [
    ("dashboard", "Dashboard", PREFIX, None),
    ("merchants", "Merchants", f"{PREFIX}/merchants", None),
    ("orders", "Orders", f"{PREFIX}/orders", None),
    ("incidents", "Incidents", f"{PREFIX}/incidents", None),
    ("wallet", "Wallet", f"{PREFIX}/wallet", None),
    ("operators", "Operators", f"{PREFIX}/operators", lambda me: me.role == "super_admin"),
    ("sessions", "Sessions", f"{PREFIX}/sessions", None),
    ("audit", "Audit log", f"{PREFIX}/audit", None),
    ("password", "Change password", f"{PREFIX}/password", None),
]


def nav_items(me: Me) -> list[tuple[str, str, str]]:
    return [
        (key, label, path) for key, label, path, allowed in NAV if allowed is None or allowed(me)
    ]


templates.globals["nav_items"] = nav_items

ROUTERS = [auth_pages.router, gateway_pages.router, account_pages.router]


def install_console(app: FastAPI) -> None:
    """Mount the console's routes, its stylesheet, and htmx from the django-js-lib-htmx package."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(
        f"{PREFIX}/static/htmx",
        StaticFiles(packages=[("js_lib_htmx", "static/htmx")]),
        name="console-htmx",
    )
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-static",
    )
