"""ISSUER picks the adapter at start; the app holds it, mounts the sandbox in development, and
refuses to start in production without explicit issuer secrets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from paywarden.app import create_app
from paywarden.config import ConfigError, Settings
from paywarden.issuer.registry import adapter_for, known
from paywarden.issuer.sandbox import SandboxAdapter
from paywarden.treasury.calls import unwrap
from tests.conftest import client_for


def mounted(app: FastAPI) -> set[str]:
    return {route.path for route in app.routes if isinstance(route, Mount)}


def test_the_default_issuer_is_the_sandbox(settings: Settings) -> None:
    assert settings.issuer == "sandbox"
    adapter = adapter_for(settings)
    assert isinstance(adapter, SandboxAdapter)
    assert adapter.name == "sandbox"
    assert settings.issuer_base_url == f"{settings.public_base_url}/sandbox-issuer"


def test_an_unknown_issuer_stops_the_start(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"ISSUER='arqen' is not a known card issuer.*sandbox"):
        create_app(make_settings(issuer="arqen"))


def test_production_refuses_the_sandbox_and_derives_no_issuer_secrets(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ValueError, match="ISSUER is sandbox"):
        make_settings(env="production", issuer="sandbox", encryption_keys="A" * 43 + "=")
    prod = make_settings(
        env="production",
        issuer_api_key=None,
        issuer_webhook_secrets=None,
        encryption_keys="A" * 43 + "=",
    )
    # A real adapter gets explicit secrets or none: production never derives them.
    assert (prod.issuer_key(), prod.issuer_secrets()) == (None, [])
    # The sandbox adapter's own check stays, behind the settings' refusal.
    with pytest.raises(ConfigError, match="ISSUER_API_KEY and ISSUER_WEBHOOK_SECRETS"):
        adapter_for(prod.model_copy(update={"issuer": "sandbox"}))


def test_issuer_none_runs_without_an_adapter(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(issuer="none"))
    assert app.state.issuer is None
    assert "/sandbox-issuer" not in mounted(app)


def test_development_derives_stable_secrets(make_settings: Callable[..., Settings]) -> None:
    first = make_settings(issuer_api_key=None, issuer_webhook_secrets=None)
    again = make_settings(issuer_api_key=None, issuer_webhook_secrets=None)
    key, secrets = first.issuer_key(), first.issuer_secrets()
    assert key is not None
    assert key.startswith("dev_")
    assert len(secrets) == 1
    assert key != secrets[0]
    assert (again.issuer_key(), again.issuer_secrets()) == (key, secrets)
    assert first.signing_key() not in key  # derived, not the signing key itself


def test_rotation_secrets_are_comma_separated(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(issuer_webhook_secrets=" new-one , old-one ")
    assert settings.issuer_secrets() == ["new-one", "old-one"]


def test_urls_default_to_the_public_base_url(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(public_base_url="https://pay.example.com/")
    assert settings.sandbox_callback_base == "https://pay.example.com"
    custom = make_settings(
        issuer_url="http://127.0.0.1:8091/", sandbox_callback_url="http://10.0.0.5:8000/"
    )
    assert custom.issuer_base_url == "http://127.0.0.1:8091"
    assert custom.sandbox_callback_base == "http://10.0.0.5:8000"


async def test_the_app_holds_the_adapter_and_mounts_the_sandbox(app: FastAPI) -> None:
    # The app counts its issuer calls (paywarden/treasury/calls.py) around the adapter.
    assert isinstance(unwrap(app.state.issuer), SandboxAdapter)
    assert "/sandbox-issuer" in mounted(app)
    async with client_for(app) as client:
        response = await client.get("/sandbox-issuer/v1/health")
        assert response.status_code == 401  # the sandbox's API wants our key
        key = app.state.settings.issuer_key()
        ok = await client.get(
            "/sandbox-issuer/v1/health", headers={"Authorization": f"Bearer {key}"}
        )
        assert ok.json() == {"status": "ok"}


def test_an_issuer_is_a_module_with_build() -> None:
    # A second issuer needs no change outside its module: the registry finds it by name.
    assert known() == ["sandbox"]
