"""The application key set: the first key encrypts, all decrypt; keys never shown; production
refuses to start without ENCRYPTION_KEYS."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from paywarden.b2b.crypto import vault_for
from paywarden.config import ConfigError, load_settings
from paywarden.kit.crypto import KeySet, UndecryptableError, keyset_for
from tests.conftest import TEST_XPUB

A, B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    token = KeySet.parse(A).encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token
    rotating = KeySet.parse(f" {B} , {A} ")
    assert rotating.decrypt(token) == "JBSWY3DPEHPK3PXP"
    assert not rotating.is_current(token)
    moved = rotating.rekey(token)
    assert moved is not None
    assert rotating.rekey(moved) is None  # already under the first key: left alone
    assert KeySet.parse(B).decrypt(moved) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(UndecryptableError):
        KeySet.parse(B).decrypt(token)
    with pytest.raises(UndecryptableError):
        rotating.decrypt("not a token")


def test_keys_stay_out_of_reprs_and_errors() -> None:
    assert repr(KeySet.parse(f"{B},{A}")) == "KeySet(2 keys, ***)"
    assert A not in repr(KeySet.parse(A))
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, encryption_keys=f"{A},not-a-fernet-key-secret")
    assert "ENCRYPTION_KEYS" in str(caught.value)
    assert "not-a-fernet-key-secret" not in str(caught.value)
    assert A not in str(caught.value)


def test_production_refuses_to_start_without_encryption_keys() -> None:
    production = {
        "_env_file": None,
        "env": "production",
        "secret_key": "s" * 40,
        "xpub": TEST_XPUB,
        "tron_network": "nile",
        "issuer": "none",
        "metrics_token": "m" * 32,
    }
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS must be set in production"):
        load_settings(**production)
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS must be set in production"):
        load_settings(**production, encryption_keys="  ")
    settings = load_settings(**production, encryption_keys=A)
    assert keyset_for(settings).decrypt(KeySet.parse(A).encrypt("x")) == "x"


def test_development_derives_a_stable_key_from_the_secret_key() -> None:
    one = load_settings(_env_file=None, secret_key="k" * 40, xpub=TEST_XPUB)
    again = load_settings(_env_file=None, secret_key="k" * 40, xpub=TEST_XPUB)
    other = load_settings(_env_file=None, secret_key="o" * 40, xpub=TEST_XPUB)
    token = keyset_for(one).encrypt("secret")
    assert keyset_for(again).decrypt(token) == "secret"
    with pytest.raises(UndecryptableError):
        keyset_for(other).decrypt(token)


def test_b2b_profiles_use_their_own_key_else_the_application_keys() -> None:
    own = load_settings(_env_file=None, xpub=TEST_XPUB, b2b_encryption_key=B, encryption_keys=A)
    shared = load_settings(_env_file=None, xpub=TEST_XPUB, encryption_keys=A)
    token = vault_for(shared).encrypt({"client_secret": "s"})
    assert KeySet.parse(A).decrypt(token) == '{"client_secret":"s"}'
    with pytest.raises(ValueError, match="cannot be decrypted"):
        vault_for(own).decrypt(token)
    assert vault_for(own).decrypt(vault_for(own).encrypt({"a": 1})) == {"a": 1}
