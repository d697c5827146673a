"""TRON's cryptography: addresses, hashes and secp256k1 signatures (the devnet and the sweeper).

A TRON address is 0x41 followed by the last 20 bytes of keccak256 of the 64-byte public key;
its text form is base58check of those 21 bytes ("T..."). A transaction's id is sha256 of its
raw_data protobuf bytes, and its signature is a 65-byte recoverable secp256k1 signature
(r | s | v) over that id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import base58
import coincurve
from Crypto.Hash import keccak

ADDRESS_PREFIX = 0x41


class InvalidAddress(ValueError):
    pass


class InvalidSignature(ValueError):
    pass


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def address_from_public_key(public_key: coincurve.PublicKey) -> str:
    """The base58check address of a public key."""
    raw = public_key.format(compressed=False)[1:]  # drop the 0x04 marker: 64 bytes
    return to_base58(bytes([ADDRESS_PREFIX]) + keccak256(raw)[-20:])


def to_base58(raw: bytes) -> str:
    return base58.b58encode_check(raw).decode()


def to_raw(address: str) -> bytes:
    """The 21 address bytes from any of TRON's text forms: "T..." base58check or "41..." hex.

    The 20-byte "0x..." form of event results is accepted too.
    """
    try:
        if address.startswith("T"):
            raw = base58.b58decode_check(address)
        elif address.startswith("0x") and len(address) == 42:
            raw = bytes([ADDRESS_PREFIX]) + bytes.fromhex(address[2:])
        else:
            raw = bytes.fromhex(address)
    except ValueError as exc:
        raise InvalidAddress(f"invalid address {address!r}") from exc
    if len(raw) != 21 or raw[0] != ADDRESS_PREFIX:
        raise InvalidAddress(f"invalid address {address!r}")
    return raw


def to_hex(address: str) -> str:
    """The "41..." hex form TronGrid uses in non-visible JSON."""
    return to_raw(address).hex()


def normalize(address: str) -> str:
    """The base58check form, the devnet's key for accounts."""
    return to_base58(to_raw(address))


def is_address(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        to_raw(value)
    except InvalidAddress:
        return False
    return True


def recover_address(txid: bytes, signature: bytes) -> str:
    """The address whose key made `signature` over the 32-byte transaction id."""
    if len(signature) != 65:
        raise InvalidSignature("signature must be 65 bytes (r|s|v)")
    v = signature[64]
    if v >= 27:  # some signers use Ethereum's 27/28; java-tron accepts both
        v -= 27
    if v not in (0, 1):
        raise InvalidSignature("signature recovery id must be 0 or 1")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), txid, hasher=None
        )
    except Exception as exc:  # coincurve raises ValueError or its own errors on bad points
        raise InvalidSignature("signature does not recover a public key") from exc
    return address_from_public_key(public_key)


@dataclass(frozen=True)
class KeyPair:
    """A private key and its address; the devnet's built-in accounts sign with these."""

    private_key: coincurve.PrivateKey
    address: str

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyPair:
        key = coincurve.PrivateKey(secret)
        return cls(key, address_from_public_key(key.public_key))

    @classmethod
    def from_seed(cls, seed: str) -> KeyPair:
        """A deterministic key (same seed, same address on every start): devnet only."""
        return cls.from_secret(sha256(seed.encode()))

    def sign(self, txid: bytes) -> bytes:
        """65 bytes r|s|v over the transaction id (v is 0 or 1, as tronpy makes it)."""
        return self.private_key.sign_recoverable(txid, hasher=None)
