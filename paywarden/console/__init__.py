"""The admin console: server-rendered pages under `/admin` on the admin API's services.

Each `paywarden/console/*_pages.py` module is one area of the console: its `router` is mounted
and its `NAV` entries (if any) join the menu, grouped as Cards / Gateway / Administration. A new
area is a new module; nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from paywarden import console as package
from paywarden.console import fallback
from paywarden.console.web import PREFIX, Me, NavEntry, templates

GROUPS = ("Cards", "Gateway", "Administration")


def page_modules() -> list[ModuleType]:
    """Every `*_pages` module of the console, in name order (auth_pages first: sign-in)."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(package.__path__) if info.name.endswith("_pages")
    )
    names.sort(key=lambda name: name != "auth_pages")
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def routers() -> list[APIRouter]:
    return [module.router for module in page_modules()]


def nav_entries() -> list[NavEntry]:
    entries = [entry for module in page_modules() for entry in getattr(module, "NAV", [])]
    return sorted(entries, key=lambda e: (GROUPS.index(e.group), e.order))


def nav_groups(me: Me) -> list[tuple[str, list[NavEntry]]]:
    """The menu for `me`: each group with the entries its role may use, empty groups left out."""
    out: list[tuple[str, list[NavEntry]]] = []
    for group in GROUPS:
        entries = [e for e in nav_entries() if e.group == group and e.allowed(me)]
        if entries:
            out.append((group, entries))
    return out


templates.globals["nav_groups"] = nav_groups


def install_console(app: FastAPI) -> None:
    """Mount the console's stylesheet, htmx from the django-js-lib-htmx package, the areas'
    routes, and last the 404 page for any other path under /admin."""
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
    for router in routers():
        app.include_router(router)
    app.include_router(fallback.router)
