"""The configured card issuer: ISSUER names one adapter; a new issuer is a line here."""

from __future__ import annotations

from collections.abc import Callable

from paywarden.config import ConfigError, Settings
from paywarden.issuer.base import IssuerAdapter
from paywarden.issuer.sandbox import SandboxAdapter


def _sandbox(settings: Settings) -> IssuerAdapter:
    key, secrets = settings.issuer_key(), settings.issuer_secrets()
    if not key or not secrets:  # only production leaves them unset (development derives them)
        raise ConfigError("ISSUER_API_KEY and ISSUER_WEBHOOK_SECRETS must be set in production")
    return SandboxAdapter(settings.issuer_base_url, key, secrets)


ADAPTERS: dict[str, Callable[[Settings], IssuerAdapter]] = {"sandbox": _sandbox}


def adapter_for(settings: Settings) -> IssuerAdapter:
    """The adapter ISSUER names; ConfigError (with the known names) for any other."""
    build = ADAPTERS.get(settings.issuer.strip().lower())
    if build is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigError(f"ISSUER={settings.issuer!r} is not a known card issuer (known: {known})")
    return build(settings)
