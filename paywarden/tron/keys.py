"""TRON keys and addresses: watch-only derivation from the account xpub (BIP-44, coin 195).

The xpub is the account-level key of m/44'/195'/0'; deposit address i is its child 0/i, the
address any TRON wallet shows for the same seed. No private key is needed or held here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bip_utils import (
    Bip39MnemonicGenerator,
    Bip39SeedGenerator,
    Bip39WordsNum,
    Bip44,
    Bip44Changes,
    Bip44Coins,
    Bip44Levels,
    TrxAddrDecoder,
)

from paywarden.kit.logging import get_logger

log = get_logger(__name__)


class InvalidXpub(ValueError):
    pass


@lru_cache(maxsize=4)
def _external_chain(xpub: str) -> Bip44:
    try:
        account = Bip44.FromExtendedKey(xpub, Bip44Coins.TRON)
    except Exception as exc:  # bip-utils raises several types for a malformed key
        raise InvalidXpub("XPUB is not a valid extended public key") from exc
    if account.Level() != Bip44Levels.ACCOUNT:
        raise InvalidXpub("XPUB must be the account-level key of m/44'/195'/0'")
    return account.Change(Bip44Changes.CHAIN_EXT)


def derive_address(xpub: str, index: int) -> str:
    """The base58check TRON address of m/44'/195'/0'/0/index, from the xpub alone."""
    return _external_chain(xpub).AddressIndex(index).PublicKey().ToAddress()


def account_xpub(mnemonic: str) -> str:
    seed = Bip39SeedGenerator(mnemonic).Generate()
    return (
        Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0).PublicKey().ToExtended()
    )


def development_xpub(var_dir: Path) -> str:
    """A development mnemonic, generated once into var/ (never for real money)."""
    path = var_dir / "dev_mnemonic"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_24)))
        log.warning(
            "development_mnemonic_created",
            path=str(path),
            hint="set XPUB for anything but development",
        )
    return account_xpub(path.read_text().strip())


def is_tron_address(value: str) -> bool:
    try:
        TrxAddrDecoder.DecodeAddr(value)
    except Exception:  # any decoding failure means "not an address"
        return False
    return True
