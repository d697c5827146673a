"""URL checks shared by request schemas."""

from __future__ import annotations

from urllib.parse import urlsplit


def http_url(value: str) -> str:
    """An absolute http(s) URL with a host, at most 2048 characters."""
    if len(value) > 2048:
        raise ValueError("URL is longer than 2048 characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return value
