"""The configured card issuer. ISSUER names a module of this package, `paywarden.issuer.<name>`,
whose `build(settings)` returns its adapter: a new issuer is a new module and nothing else.
ISSUER=none is no module: no adapter, the gateway alone (card routes answer 503 CARDS_DISABLED)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from paywarden import issuer as package
from paywarden.config import ConfigError, Settings
from paywarden.issuer.base import IssuerAdapter

# Modules of the package that are plumbing, not issuers.
NOT_ISSUERS = frozenset({"base", "registry", "signing"})


def _issuer_modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg or info.name in NOT_ISSUERS:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if callable(getattr(module, "build", None)):
            found[info.name] = module
    return found


def known() -> list[str]:
    """The issuers this installation can use (the values ISSUER accepts)."""
    return sorted(_issuer_modules())


def adapter_for(settings: Settings) -> IssuerAdapter | None:
    """The adapter ISSUER names, None for ISSUER=none (the gateway alone: cards are off);
    ConfigError (with the known names) for any other."""
    if not settings.cards_enabled:
        return None
    modules = _issuer_modules()
    module = modules.get(settings.issuer.strip().lower())
    if module is None:
        names = ", ".join([*sorted(modules), "none"])
        raise ConfigError(f"ISSUER={settings.issuer!r} is not a known card issuer (known: {names})")
    adapter: IssuerAdapter = module.build(settings)
    return adapter
