"""The Python in docs/merchants/webhooks.md runs, and accepts exactly what PayWarden signs.

The code blocks are taken from the Markdown and executed as they are, so the docs cannot drift
from a copy kept here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from paywarden.models import Order
from paywarden.orders.schemas import PaymentOut
from paywarden.orders.service import changed
from paywarden.subscribers import message
from paywarden.webhooks.service import body
from paywarden.webhooks.signing import body_bytes, headers

DOC = Path(__file__).resolve().parents[2] / "docs" / "merchants" / "webhooks.md"
SECRET = "merchant-secret-åß-42"  # non-ASCII: the key is the UTF-8 bytes, not base64
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(DOC.read_text()) if lang == language]


def python_block(marker: str) -> str:
    [code] = [code for code in blocks("python") if marker in code]
    return code


def run(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def event_body() -> bytes:
    order = Order(
        id=uuid.uuid4(),
        external_id="order-1042",
        address="TJ7hhYhVhaxNx6BPyq7yFpqZrQULL3JSdb",
        amount_expected=25_000_000,
        amount_received=25_000_000,
        status="confirmed",
        callback_url="https://shop.example.com/paywarden/webhook",
        meta={"note": "café ☕"},
        tx_hash="ab" * 32,
        created_at=datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
        expires_at=datetime(2025, 5, 1, 13, 0, tzinfo=UTC),
    )
    change = changed(order, "order.confirmed", "https://pay.test")
    return body_bytes(body(message(change), uuid.uuid4()))


def signed(body: bytes, *, age: int = 0) -> dict[str, str]:
    msg_id = json.loads(body)["id"]
    return headers(SECRET, msg_id, int(time.time()) - age, body)


@pytest.fixture
def by_hand() -> dict[str, Any]:
    return run(python_block("def verify_webhook("), {"__name__": "webhook_docs_by_hand"})


@pytest.fixture
async def receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple]]]:
    monkeypatch.setenv("PAYWARDEN_WEBHOOK_SECRET", SECRET)
    calls: list[tuple] = []
    ns = run(
        python_block("webhook.verify("),
        {
            "__name__": "webhook_docs_receiver",
            "mark_paid": lambda *a: calls.append(("paid", *a)),
            "mark_expired": lambda *a: calls.append(("expired", *a)),
        },
    )
    transport = httpx.ASGITransport(app=ns["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client, calls


def test_the_doc_states_the_secret_as_bytes() -> None:
    assert 'Webhook(os.environ["PAYWARDEN_WEBHOOK_SECRET"].encode())' in python_block(
        "webhook.verify("
    )


def test_the_example_body_has_the_shape_paywarden_sends() -> None:
    [example] = [json.loads(b) for b in blocks("json") if '"order.confirmed"' in b]
    sent = json.loads(event_body())
    assert list(example) == list(sent) == ["id", "type", "created_at", "data"]
    assert list(example["data"]) == list(sent["data"]) == list(PaymentOut.model_fields)


def test_by_hand_accepts_what_paywarden_signs(by_hand: dict[str, Any]) -> None:
    body = event_body()
    by_hand["verify_webhook"](SECRET, body, signed(body))
    # and the standardwebhooks package agrees, keyed with the secret's bytes
    assert Webhook(SECRET.encode()).verify(body, signed(body)) == json.loads(body)


@pytest.mark.parametrize("case", ["tampered", "old", "future", "wrong_secret", "no_headers"])
def test_by_hand_rejects(by_hand: dict[str, Any], case: str) -> None:
    body = event_body()
    sent = {
        "tampered": signed(body),
        "old": signed(body, age=6 * 60),
        "future": signed(body, age=-6 * 60),
        "wrong_secret": headers("another-secret", "msg_1", int(time.time()), body),
        "no_headers": {},
    }[case]
    if case == "tampered":
        body = body.replace(b"25.000000", b"250.000000", 1)
    with pytest.raises(by_hand["InvalidWebhook"]):
        by_hand["verify_webhook"](SECRET, body, sent)


async def test_receiver_accepts_once_and_dedupes(
    receiver: tuple[httpx.AsyncClient, list[tuple]],
) -> None:
    client, calls = receiver
    body = event_body()
    first = await client.post("/paywarden/webhook", content=body, headers=signed(body))
    assert first.status_code == 204
    # the same event again (a retry: same webhook-id, new timestamp) is acknowledged, not redone
    again = await client.post("/paywarden/webhook", content=body, headers=signed(body, age=1))
    assert again.status_code == 204
    assert calls == [("paid", "order-1042", "25.000000", "ab" * 32)]


@pytest.mark.parametrize("case", ["tampered", "old", "wrong_secret"])
async def test_receiver_rejects_with_400(
    receiver: tuple[httpx.AsyncClient, list[tuple]], case: str
) -> None:
    client, calls = receiver
    body = event_body()
    sent = {
        "tampered": signed(body),
        "old": signed(body, age=6 * 60),
        "wrong_secret": headers("another-secret", "msg_1", int(time.time()), body),
    }[case]
    if case == "tampered":
        body = body.replace(b"25.000000", b"250.000000", 1)
    response = await client.post("/paywarden/webhook", content=body, headers=sent)
    assert response.status_code == 400
    assert calls == []
