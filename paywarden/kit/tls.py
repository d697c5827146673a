"""One TLS client context for the whole process.

Loading the CA bundle costs tens of milliseconds each time; httpx builds a fresh context for
every client made without one, and the app builds several clients at each start.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    """The verifying context every outbound client of the process shares (read-only once made)."""
    return httpx.create_ssl_context()
