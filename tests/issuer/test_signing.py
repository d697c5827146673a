"""The issuer's request signature, as the sandbox adapter verifies it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paywarden.issuer import signing
from paywarden.issuer.base import InvalidSignature
from paywarden.issuer.sandbox import SandboxAdapter

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BODY = b'{"id":"evt_1","type":"transaction.cleared"}'


def adapter(*secrets: str) -> SandboxAdapter:
    return SandboxAdapter("http://127.0.0.1:9", "key", list(secrets))


def signed(secret: str, body: bytes = BODY, at: datetime = NOW) -> dict[str, str]:
    return signing.sign([secret], body, int(at.timestamp()))


def test_a_good_signature_passes() -> None:
    adapter("s1").verify(signed("s1"), BODY, NOW)


def test_headers_are_read_whatever_their_case() -> None:
    headers = {key.lower(): value for key, value in signed("s1").items()}
    adapter("s1").verify(headers, BODY, NOW)


def test_a_tampered_body_fails() -> None:
    with pytest.raises(InvalidSignature, match="mismatch"):
        adapter("s1").verify(signed("s1"), BODY.replace(b"cleared", b"refunded"), NOW)


def test_another_secret_fails() -> None:
    with pytest.raises(InvalidSignature, match="mismatch"):
        adapter("s1").verify(signed("someone-else"), BODY, NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_and_future_timestamps_fail(offset: timedelta) -> None:
    with pytest.raises(InvalidSignature, match="tolerance"):
        adapter("s1").verify(signed("s1", at=NOW + offset), BODY, NOW)


def test_a_timestamp_within_five_minutes_passes() -> None:
    adapter("s1").verify(signed("s1", at=NOW - timedelta(minutes=4, seconds=50)), BODY, NOW)


def test_the_second_secret_is_accepted_during_a_rotation() -> None:
    rotating = adapter("new-secret", "old-secret")
    rotating.verify(signed("old-secret"), BODY, NOW)
    rotating.verify(signed("new-secret"), BODY, NOW)


def test_any_of_several_v1_entries_may_match() -> None:
    headers = signing.sign(["unknown", "s1"], BODY, int(NOW.timestamp()))
    assert headers[signing.SIGNATURE_HEADER].count("v1=") == 2
    adapter("s1").verify(headers, BODY, NOW)


@pytest.mark.parametrize("missing", [signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER])
def test_missing_headers_fail(missing: str) -> None:
    headers = signed("s1")
    del headers[missing]
    with pytest.raises(InvalidSignature, match="missing"):
        adapter("s1").verify(headers, BODY, NOW)


def test_a_malformed_timestamp_or_scheme_fails() -> None:
    headers = signed("s1")
    with pytest.raises(InvalidSignature, match="timestamp"):
        adapter("s1").verify({**headers, signing.TIMESTAMP_HEADER: "noon"}, BODY, NOW)
    unversioned = headers[signing.SIGNATURE_HEADER].replace("v1=", "v0=")
    with pytest.raises(InvalidSignature, match="no v1"):
        adapter("s1").verify({**headers, signing.SIGNATURE_HEADER: unversioned}, BODY, NOW)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    headers = signed("s1")
    expected = hmac.new(b"s1", f"{int(NOW.timestamp())}.".encode() + BODY, hashlib.sha256)
    assert headers[signing.SIGNATURE_HEADER] == f"v1={expected.hexdigest()}"
    assert headers[signing.TIMESTAMP_HEADER] == str(int(NOW.timestamp()))


GOOD_STAMP = str(int(NOW.timestamp()))
GOOD_MAC = signed("s1")[signing.SIGNATURE_HEADER]

# (timestamp header, signature header): each a bad signature, never an error of ours
MALFORMED: list[tuple[str, str]] = [
    ("", GOOD_MAC),
    (" ", GOOD_MAC),
    ("-" + GOOD_STAMP, GOOD_MAC),  # negative
    ("+" + GOOD_STAMP, GOOD_MAC),
    ("-1", GOOD_MAC),
    ("0", GOOD_MAC),
    ("9" * 13, GOOD_MAC),  # too long
    ("9" * 400, GOOD_MAC),  # a float overflow for int() - float
    ("9" * 5000, GOOD_MAC),  # past int()'s digit limit
    ("1" + "0" * 30, GOOD_MAC),
    ("\u0661\u0667\u0666\u0664", GOOD_MAC),  # Arabic-Indic digits: int() would take them
    ("\uff11\uff17\uff16\uff14", GOOD_MAC),  # full-width digits
    (GOOD_STAMP[:5] + "_" + GOOD_STAMP[5:], GOOD_MAC),  # int() takes underscores
    (GOOD_STAMP + ".0", GOOD_MAC),
    ("1e9", GOOD_MAC),
    ("0x6745", GOOD_MAC),
    ("NaN", GOOD_MAC),
    ("inf", GOOD_MAC),
    (GOOD_STAMP + "\x00", GOOD_MAC),
    ("\xe9\xe9", GOOD_MAC),  # latin-1 bytes as Starlette decodes them
    (GOOD_STAMP, ""),
    (GOOD_STAMP, "v1="),
    (GOOD_STAMP, "v1=" + "g" * 64),
    (GOOD_STAMP, "v1=" + "a" * 63),
    (GOOD_STAMP, "v1=" + "a" * 65),
    (GOOD_STAMP, "v1=" + "\xe9" * 64),  # non-ASCII: compare_digest would raise TypeError
    (GOOD_STAMP, "v1=" + "\u0661" * 64),
    (GOOD_STAMP, GOOD_MAC.replace("v1=", "V1=")),
    (GOOD_STAMP, GOOD_MAC.replace("v1=", "v1 =")),
    (GOOD_STAMP, ",".join(["v1=" + "0" * 64] * 8 + [GOOD_MAC])),  # over 8 entries
    (GOOD_STAMP, "," * 10_000),
    (GOOD_STAMP, GOOD_MAC[:-1] + "\x00"),
]


@pytest.mark.parametrize(("stamp", "mac"), MALFORMED)
def test_malformed_headers_are_a_bad_signature(stamp: str, mac: str) -> None:
    headers = {signing.TIMESTAMP_HEADER: stamp, signing.SIGNATURE_HEADER: mac}
    with pytest.raises(InvalidSignature):
        adapter("s1").verify(headers, BODY, NOW)


def test_uppercase_hex_and_spaces_around_entries_still_match() -> None:
    upper = "v2=whatever ,  " + GOOD_MAC.upper().replace("V1=", "v1=")
    headers = {signing.TIMESTAMP_HEADER: f" {GOOD_STAMP}\t", signing.SIGNATURE_HEADER: upper}
    adapter("s1").verify(headers, BODY, NOW)
