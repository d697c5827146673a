"""The issuer's inbound routes never answer 5xx, whatever the headers and the body: a
timestamp or signature header in any other form than the exact one is a 401
INVALID_SIGNATURE like any bad signature.

Three layers: a table of malformed headers sent as raw bytes (non-ASCII included); schemathesis
over the two routes from the OpenAPI document, the signature headers drawn from hypothesis
strategies aimed at the parsers (unicode digits, huge and negative numbers, near-miss MACs);
and hypothesis-made JSON bodies that carry a valid signature, so they reach the adapter's
parsers and the handlers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paywarden.app import create_app
from paywarden.config import Settings
from paywarden.issuer import signing
from tests.card_transactions.conftest import AUTHORIZE, WEBHOOKS
from tests.test_schemathesis import CHECKS, DOCUMENT

ROUTES = [AUTHORIZE, WEBHOOKS]
NOW = str(int(time.time()))
MAC = "v1=" + "0" * 64

# (timestamp, signature) as raw header bytes
RAW_HEADERS: list[tuple[bytes | None, bytes | None]] = [
    (None, MAC.encode()),
    (NOW.encode(), None),
    (None, None),
    (b"", MAC.encode()),
    (b"-" + NOW.encode(), MAC.encode()),
    (b"9" * 400, MAC.encode()),
    (b"9" * 5000, MAC.encode()),
    ("\u0661\u0662\u0663".encode(), MAC.encode()),  # Arabic-Indic digits, UTF-8
    ("\uff11\uff12\uff13".encode(), MAC.encode()),  # full-width digits
    (b"\xff\xfe", MAC.encode()),  # not UTF-8 at all
    (NOW.encode(), b"v1=" + "\u00e9".encode() * 32),
    (NOW.encode(), b"v1=" + b"\xe9" * 64),  # latin-1: non-ASCII text for compare_digest
    (NOW.encode(), b"v1=" + b"\x80" * 64),
    (NOW.encode(), b"v1=" + b"z" * 64),
    (NOW.encode(), b",".join([MAC.encode()] * 50)),
    (NOW.encode(), b"garbage"),
]


def _raw(stamp: bytes | None, mac: bytes | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json")]
    if stamp is not None:
        headers.append((signing.TIMESTAMP_HEADER.encode(), stamp))
    if mac is not None:
        headers.append((signing.SIGNATURE_HEADER.encode(), mac))
    return headers


@pytest.mark.parametrize("route", ROUTES)
# Ids by position: the current time in a value must not make each xdist worker name it anew.
@pytest.mark.parametrize(
    ("stamp", "mac"), RAW_HEADERS, ids=[f"headers{n}" for n in range(len(RAW_HEADERS))]
)
async def test_malformed_signature_headers_are_401(
    client: httpx.AsyncClient, route: str, stamp: bytes | None, mac: bytes | None
) -> None:
    response = await client.post(route, content=b'{"id":"evt_1"}', headers=_raw(stamp, mac))
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SIGNATURE"


# Schemathesis over the documented issuer routes.

schema = schemathesis.openapi.from_dict(DOCUMENT).include(path_regex=r"^/api/v1/issuer/")

_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=0, max_value=10**400).map(str),
    st.just(NOW),
    st.text(st.sampled_from("0123456789-+_ .eEx"), min_size=1, max_size=40),
    st.text(_ASCII, min_size=1, max_size=60),
)
ENTRY = st.one_of(
    st.text(st.sampled_from("0123456789abcdefABCDEF"), min_size=60, max_size=68).map(
        lambda mac: f"v1={mac}"
    ),
    st.text(_ASCII.filter(lambda c: c != ","), max_size=80),
)
SIGNATURES = st.lists(ENTRY, min_size=0, max_size=12).map(",".join)


@schema.hook
def flatmap_headers(_: schemathesis.HookContext, headers: dict[str, Any] | None) -> Any:
    """Signature headers from our strategies (each sometimes absent), not schemathesis' own."""
    # The client refuses to send a value with leading whitespace: it is stripped.
    return st.fixed_dictionaries(
        {},
        optional={
            signing.TIMESTAMP_HEADER: TIMESTAMPS.map(str.lstrip),
            signing.SIGNATURE_HEADER: SIGNATURES.map(str.lstrip),
        },
    ).map(lambda drawn: {**(headers or {}), **drawn})


@schema.hook
def flatmap_path_parameters(_: schemathesis.HookContext, params: dict[str, Any]) -> Any:
    """Mostly the provider the app runs (the signature check is reached), else a random one."""
    return st.sampled_from([{**(params or {}), "provider": "sandbox"}] * 3 + [params])


# Both fuzzers: 150 examples each, the same ones every run (a failure reproduces).
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def issuer_app(make_settings: Callable[..., Settings]) -> FastAPI:
    return create_app(make_settings())


@schema.parametrize()
@FUZZ
def test_issuer_routes_never_answer_5xx(case: schemathesis.Case, issuer_app: FastAPI) -> None:
    response = case.call_and_validate(checks=CHECKS, app=issuer_app)
    assert response.status_code < 500, (case.headers, case.body, response.text)
    if response.status_code == 401:
        assert response.json()["code"] == "INVALID_SIGNATURE"


def test_the_document_lists_the_signature_headers() -> None:
    for route in ("/api/v1/issuer/{provider}/authorize", "/api/v1/issuer/{provider}/webhooks"):
        operation = DOCUMENT["paths"][route]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER}
        assert "401" in operation["responses"]


# Validly signed random bodies: past the signature, into the parsers and handlers.

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "id",
    "type",
    "data",
    "transaction_id",
    "card_id",
    "amount",
    "currency",
    "merchant",
    "created_at",
    "three_ds_authenticated",
    "status",
    "code",
]
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8),
    st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES)),
        max_size=8,
    ),
    JSON_VALUES,
)


@given(route=st.sampled_from(ROUTES), body=BODIES)
@FUZZ
async def test_signed_random_bodies_never_answer_5xx(
    client: httpx.AsyncClient, route: str, body: Any
) -> None:
    raw = json.dumps(body).encode()
    headers = signing.sign(["test-issuer-webhook-secret"], raw, int(time.time()))
    response = await client.post(
        route, content=raw, headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code < 500, (raw, response.text)
    assert response.status_code != 401, response.text  # the signature was good: parsed
