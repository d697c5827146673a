"""Deposit addresses are the standard TRON BIP-44 addresses of the seed behind XPUB."""

from __future__ import annotations

import hashlib

import coincurve
import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from Crypto.Hash import keccak

from paywarden.tron.keys import InvalidXpub, derive_address, is_tron_address
from tests.conftest import TEST_MNEMONIC, TEST_XPUB

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _address_from_private_key(private_key: bytes) -> str:
    """TRON's address rule written out independently: keccak of the key, 0x41, base58check."""
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)[1:]
    raw = b"\x41" + keccak.new(digest_bits=256, data=public).digest()[-20:]
    payload = raw + hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    number, text = int.from_bytes(payload, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return text


def test_known_vector_of_the_bip39_test_mnemonic() -> None:
    # m/44'/195'/0'/0/0 of "abandon … about", as TRON wallets show it.
    assert derive_address(TEST_XPUB, 0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


@pytest.mark.parametrize("index", [0, 1, 7, 1000, 2**31 - 1])
def test_watch_only_matches_the_private_key_path(index: int) -> None:
    seed = Bip39SeedGenerator(TEST_MNEMONIC).Generate()
    key = (
        Bip44.FromSeed(seed, Bip44Coins.TRON)
        .Purpose()
        .Coin()
        .Account(0)
        .Change(Bip44Changes.CHAIN_EXT)
        .AddressIndex(index)
        .PrivateKey()
        .Raw()
        .ToBytes()
    )
    assert derive_address(TEST_XPUB, index) == _address_from_private_key(key)


def test_bad_xpubs_are_refused() -> None:
    with pytest.raises(InvalidXpub):
        derive_address("xpub-not-really", 0)
    seed = Bip39SeedGenerator(TEST_MNEMONIC).Generate()
    change_level = (
        Bip44.FromSeed(seed, Bip44Coins.TRON)
        .Purpose()
        .Coin()
        .Account(0)
        .Change(Bip44Changes.CHAIN_EXT)
        .PublicKey()
        .ToExtended()
    )
    with pytest.raises(InvalidXpub, match="account-level"):
        derive_address(change_level, 0)


def test_address_check() -> None:
    assert is_tron_address("TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH")
    assert not is_tron_address("TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdX")
    assert not is_tron_address("0x1234")
