"""The app as an import string, for servers that start their own processes.

`paywarden serve --workers N` hands uvicorn `paywarden.asgi:create_app_from_env` (a factory):
each server process builds its settings from the environment and `.env` and its own app, and
`serve` itself keeps the one `paywarden worker` child. Run by hand
(`uvicorn --factory paywarden.asgi:create_app_from_env`), nothing runs the background loops:
start `paywarden worker` beside it.
"""

from __future__ import annotations

from fastapi import FastAPI

from paywarden.app import create_app
from paywarden.config import load_settings


def create_app_from_env() -> FastAPI:
    return create_app(load_settings())
