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
