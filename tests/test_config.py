from __future__ import annotations

from pathlib import Path

import pytest

from paywarden.config import DEFAULT_SQLITE_URL, ConfigError, load_settings
from tests.conftest import TEST_XPUB


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert settings.env == "development"
    assert settings.report_timezone == "UTC"
    assert settings.redis_url is None


def test_development_secret_is_generated_once(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, var_dir=tmp_path / "var", secret_key=None)
    key = settings.signing_key()
    assert len(key) >= 32
    assert load_settings(_env_file=None, var_dir=tmp_path / "var").signing_key() == key
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(_env_file=None, env="production", secret_key=None, xpub=TEST_XPUB)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(_env_file=None, env="production", secret_key="too-short", xpub=TEST_XPUB)
    with pytest.raises(ConfigError, match="XPUB"):
        load_settings(_env_file=None, env="production", secret_key="k" * 32, xpub=None)
    ok = load_settings(
        _env_file=None,
        env="production",
        secret_key="k" * 32,
        xpub=TEST_XPUB,
        tron_network="nile",  # production refuses the devnet and the sandbox issuer
        issuer="none",
        encryption_keys="A" * 43 + "=",
    )
    assert ok.bootstrap_token() is None  # no generated token in production


def test_env_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ADMIN_EMAIL=Boss@Example.com\nREPORT_TIMEZONE=Europe/Berlin\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.admin_email == "boss@example.com"
    assert settings.tz.key == "Europe/Berlin"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(_env_file=None, report_timezone="Mars/Olympus")
    with pytest.raises(ConfigError):
        load_settings(_env_file=None, env="staging")


def test_development_xpub_is_generated_once(tmp_path: Path) -> None:
    from paywarden.context import resolve_xpub

    settings = load_settings(_env_file=None, var_dir=tmp_path / "var", xpub=None)
    xpub = resolve_xpub(settings)
    assert xpub.startswith("xpub")
    assert (tmp_path / "var" / "dev_mnemonic").stat().st_mode & 0o777 == 0o600
    assert len((tmp_path / "var" / "dev_mnemonic").read_text().split()) == 24
    assert resolve_xpub(settings) == xpub
    assert resolve_xpub(load_settings(_env_file=None, xpub=TEST_XPUB)) == TEST_XPUB
