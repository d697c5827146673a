"""The app as an import string, for servers that start their own processes.

`paywarden serve --workers N` hands uvicorn `paywarden.asgi:create_app_from_env` (a factory):
each worker process builds its settings from the environment and `.env` and its own app.
`serve` passes its command-line choices down in the environment; run by hand
(`uvicorn --factory paywarden.asgi:create_app_from_env`), the app runs no background loops.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from paywarden.app import create_app
from paywarden.config import load_settings

# "1" when `serve` was asked to run the background loops in its processes too.
RUN_WORKER_ENV = "PAYWARDEN_SERVE_RUN_WORKER"


def create_app_from_env() -> FastAPI:
    settings = load_settings()
    return create_app(settings, run_worker=os.environ.get(RUN_WORKER_ENV) == "1")
