"""The sweeper's keys: the hot wallet's private key and the deposit addresses' seed.

Only the worker builds a `SweepKeys` (from HOT_WALLET_KEY and SWEEP_SEED/SWEEP_SEED_FILE); the
API process never does. Nothing here logs, renders or stores a key: `repr` shows addresses only.

Before signing, a transaction that TronGrid built is checked to say exactly what was asked for:
its txID is sha256 of raw_data_hex, raw_data encodes to those bytes, and the decoded contract
has the expected type, parties and amount. A lying or broken node cannot get another transfer
signed. Signatures are TRON's: 65 bytes r|s|v, recoverable secp256k1 over the txID.
"""

from __future__ import annotations

import hashlib
from typing import Any

import coincurve
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins

from paywarden.config import ConfigError, Settings
from paywarden.tron import crypto, proto


class UnexpectedTransaction(Exception):
    """A transaction to sign that does not say what was asked for: never signed."""


class SweepKeys:
    def __init__(self, hot_key_hex: str, mnemonic: str, xpub: str) -> None:
        self._hot = coincurve.PrivateKey(bytes.fromhex(hot_key_hex))
        self.hot_address = crypto.address_from_public_key(self._hot.public_key)
        try:
            seed = Bip39SeedGenerator(mnemonic).Generate()
        except Exception as exc:  # bip-utils raises several types for a bad mnemonic
            raise ConfigError("SWEEP_SEED is not a valid BIP-39 mnemonic") from exc
        account = Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)
        if account.PublicKey().ToExtended() != xpub:
            raise ConfigError(
                "SWEEP_SEED does not match XPUB: its m/44'/195'/0' xpub is another key"
            )
        self._external = account.Change(Bip44Changes.CHAIN_EXT)

    def __repr__(self) -> str:
        return f"SweepKeys(hot_address={self.hot_address!r})"

    def _deposit_key(self, index: int, address: str) -> coincurve.PrivateKey:
        node = self._external.AddressIndex(index)
        if node.PublicKey().ToAddress() != address:
            raise UnexpectedTransaction(f"derivation index {index} is not {address}")
        return coincurve.PrivateKey(node.PrivateKey().Raw().ToBytes())

    def sign_hot(self, tx: dict[str, Any], contract_type: str, **expect: Any) -> dict[str, Any]:
        """The hot wallet's signature on `tx`, after checking it (owner: the hot wallet)."""
        return _signed(tx, self._hot, contract_type, owner_address=self.hot_address, **expect)

    def sign_deposit(
        self, tx: dict[str, Any], index: int, address: str, contract_type: str, **expect: Any
    ) -> dict[str, Any]:
        """Deposit address `index`'s signature on `tx` (owner: that address)."""
        key = self._deposit_key(index, address)
        return _signed(tx, key, contract_type, owner_address=address, **expect)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) and crypto.is_address(expected):
        return (
            isinstance(actual, str)
            and crypto.is_address(actual)
            and (crypto.to_raw(actual) == crypto.to_raw(expected))
        )
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected.lower()
    return bool(actual == expected)


def _signed(
    tx: dict[str, Any], key: coincurve.PrivateKey, contract_type: str, **expect: Any
) -> dict[str, Any]:
    try:
        raw = bytes.fromhex(str(tx["raw_data_hex"]))
        txid = str(tx["txID"]).lower()
        decoded = proto.decode_raw(raw)
        if tx.get("raw_data") is not None and proto.encode_raw(tx["raw_data"]) != raw:
            raise UnexpectedTransaction("raw_data does not match raw_data_hex")
    except (KeyError, ValueError, proto.ProtoError) as exc:
        raise UnexpectedTransaction(f"unreadable transaction: {exc}") from exc
    if hashlib.sha256(raw).hexdigest() != txid:
        raise UnexpectedTransaction("txID is not the sha256 of raw_data_hex")
    [contract] = decoded["contract"]
    if contract["type"] != contract_type:
        raise UnexpectedTransaction(f"expected {contract_type}, got {contract['type']}")
    value = contract["parameter"]["value"]
    fee_limit = expect.pop("fee_limit", None)
    if fee_limit is not None and int(decoded.get("fee_limit", 0)) != fee_limit:
        raise UnexpectedTransaction("fee_limit is not the one asked for")
    for name, wanted in expect.items():
        if not _same(value.get(name), wanted):
            raise UnexpectedTransaction(f"{contract_type}.{name} is not the one asked for")
    signature = key.sign_recoverable(bytes.fromhex(txid), hasher=None)
    return {**tx, "txID": txid, "signature": [signature.hex()]}


def load(settings: Settings, xpub: str) -> SweepKeys | None:
    """The keys from the settings, None without HOT_WALLET_KEY; a ConfigError when sweeping is
    on without what it needs, or when the seed is not XPUB's."""
    mnemonic = settings.sweep_mnemonic()
    if settings.sweep_enabled:
        missing = [
            name
            for name, value in (
                ("HOT_WALLET_KEY", settings.hot_wallet_key),
                ("SWEEP_SEED or SWEEP_SEED_FILE", mnemonic),
                ("COLD_WALLET_ADDRESS", settings.cold_wallet_address),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"SWEEP_ENABLED=true needs {', '.join(missing)}")
    if settings.hot_wallet_key is None:
        return None
    if mnemonic is None:
        raise ConfigError("HOT_WALLET_KEY is set without SWEEP_SEED or SWEEP_SEED_FILE")
    return SweepKeys(settings.hot_wallet_key.get_secret_value(), mnemonic, xpub)
