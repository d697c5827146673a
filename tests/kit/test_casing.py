"""Dual-accept casing and the refusal of NUL characters, for bodies and queries."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from paywarden.kit.casing import RequestModel, to_snake
from paywarden.kit.querycase import fold_query


class Body(RequestModel):
    webhook_secret: str | None = None
    is_active: bool | None = None


def test_camel_case_is_folded_and_snake_case_wins() -> None:
    assert to_snake("webhookSecret") == "webhook_secret"
    assert Body.model_validate({"webhookSecret": "a"}).webhook_secret == "a"
    both = Body.model_validate({"webhookSecret": "camel", "webhook_secret": "snake"})
    assert both.webhook_secret == "snake"
    both = Body.model_validate({"webhook_secret": "snake", "webhookSecret": "camel"})
    assert both.webhook_secret == "snake"


def test_nul_is_refused() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        Body.model_validate({"webhook_secret": "a\x00b"})


def test_query_keys_are_folded() -> None:
    assert fold_query(b"merchantId=1&page=2") == b"merchant_id=1&page=2"
    assert fold_query(b"merchantId=camel&merchant_id=snake") == b"merchant_id=snake"
    assert fold_query(b"page=2") == b"page=2"


async def test_nul_in_a_query_is_invalid_query(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/api/v1/admin/audit-log", params={"target_id": "\x00"})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_QUERY"
