"""The client app: server-rendered pages under `/app` for clients, inside Telegram (a Mini App)
or in a browser, on the same services as the client API.

Each `paywarden/clientapp/*_pages.py` module serves one area (a tab, or signing in): its
`router` is mounted here. A new area is a new module; nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from paywarden import clientapp as package
from paywarden.clientapp.web import PREFIX


def page_modules() -> list[ModuleType]:
    names = sorted(
        info.name for info in pkgutil.iter_modules(package.__path__) if info.name.endswith("_pages")
    )
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def routers() -> list[APIRouter]:
    return [module.router for module in page_modules()]


def install_clientapp(app: FastAPI) -> None:
    """Mount the app's stylesheet and script, htmx from the django-js-lib-htmx package, and
    every area's routes."""
    app.mount(
        f"{PREFIX}/static/htmx",
        StaticFiles(packages=[("js_lib_htmx", "static/htmx")]),
        name="clientapp-htmx",
    )
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="clientapp-static",
    )
    for router in routers():
        app.include_router(router)
