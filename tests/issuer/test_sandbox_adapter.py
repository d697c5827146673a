"""The sandbox adapter against the sandbox issuer, over real HTTP: every call of the interface."""

from __future__ import annotations

import httpx
import pytest

from paywarden.issuer.base import IssuerError
from paywarden.issuer.sandbox import SandboxAdapter
from paywarden.issuer.sandbox_service.state import luhn_valid
from tests.issuer.conftest import API_KEY, SECRET, Sandbox


async def test_create_card_is_idempotent_on_our_reference(sandbox: Sandbox) -> None:
    card = await sandbox.adapter.create_card(
        currency="EUR", monthly_limit=50_000, label="Ads", reference="our-card-1"
    )
    assert card.status == "active"
    assert card.issuer_card_id.startswith("card_")
    assert len(card.last4) == 4
    again = await sandbox.adapter.create_card(
        currency="EUR", monthly_limit=50_000, label="Ads", reference="our-card-1"
    )
    assert again == card
    assert len(sandbox.state.cards) == 1
    kept = sandbox.state.cards[card.issuer_card_id]
    assert (kept.currency, kept.monthly_limit, kept.label) == ("EUR", 50_000, "Ads")


async def test_a_card_currency_other_than_eur_or_usd_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(IssuerError) as caught:
        await sandbox.adapter.create_card(
            currency="GBP", monthly_limit=100, label=None, reference="gbp"
        )
    assert caught.value.raw_code == "unsupported_currency"
    assert not caught.value.retryable


async def test_freeze_unfreeze_close(sandbox: Sandbox) -> None:
    card = await sandbox.adapter.create_card(
        currency="USD", monthly_limit=10_000, label=None, reference="c"
    )
    kept = sandbox.state.cards[card.issuer_card_id]
    await sandbox.adapter.freeze(card.issuer_card_id)
    assert kept.status == "FROZEN"
    await sandbox.adapter.freeze(card.issuer_card_id)  # again: still frozen, no error
    await sandbox.adapter.unfreeze(card.issuer_card_id)
    assert kept.status == "ACTIVE"
    await sandbox.adapter.close(card.issuer_card_id)
    assert kept.status == "CLOSED"
    with pytest.raises(IssuerError) as caught:
        await sandbox.adapter.unfreeze(card.issuer_card_id)
    assert caught.value.raw_code == "card_closed"
    with pytest.raises(IssuerError):
        await sandbox.adapter.set_limit(card.issuer_card_id, 1)


async def test_set_limit(sandbox: Sandbox) -> None:
    card = await sandbox.adapter.create_card(
        currency="EUR", monthly_limit=10_000, label=None, reference="c"
    )
    await sandbox.adapter.set_limit(card.issuer_card_id, 123_45)
    assert sandbox.state.cards[card.issuer_card_id].monthly_limit == 123_45


async def test_card_details_are_a_luhn_valid_pan_an_expiry_and_a_cvv(sandbox: Sandbox) -> None:
    card = await sandbox.adapter.create_card(
        currency="EUR", monthly_limit=10_000, label=None, reference="c"
    )
    details = await sandbox.adapter.card_details(card.issuer_card_id)
    assert len(details.pan) == 16
    assert luhn_valid(details.pan)
    assert details.pan.endswith(card.last4)
    month, year = details.expiry.split("/")
    assert 1 <= int(month) <= 12
    assert len(year) == 2
    assert len(details.cvv) == 3
    assert details.cvv.isdigit()
    assert details.pan not in repr(details)
    assert details.cvv not in repr(details).replace(card.last4, "")


async def test_an_unknown_card_is_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(IssuerError) as caught:
        await sandbox.adapter.freeze("card_nope")
    assert caught.value.raw_code == "card_not_found"
    assert not caught.value.retryable


async def test_balances_per_currency(sandbox: Sandbox) -> None:
    sandbox.state.balances["EUR"] = 1234_56
    assert await sandbox.adapter.balances() == {"EUR": 1234_56, "USD": 1_000_000_00}


async def test_profile_validation_by_the_token_flow(sandbox: Sandbox) -> None:
    good = await sandbox.adapter.validate_profile({"client_id": "b2b-7", "client_secret": "s3cr3t"})
    assert good.ok
    assert good.external_id == "acct_b2b-7"
    camel = await sandbox.adapter.validate_profile({"clientId": "b2b-8", "clientSecret": "x"})
    assert camel.ok
    bad = await sandbox.adapter.validate_profile({"client_id": "b2b-9", "client_secret": "bad-1"})
    assert not bad.ok
    assert bad.external_id is None
    assert bad.reason == "token refused by the issuer: client authentication failed"
    missing = await sandbox.adapter.validate_profile({"client_id": "b2b-10"})
    assert (missing.ok, missing.reason) == (False, "client_id and client_secret are required")


async def test_health(sandbox: Sandbox) -> None:
    health = await sandbox.adapter.health()
    assert health.ok
    assert "ok" in health.detail


async def test_a_wrong_api_key_is_401_and_not_retryable(sandbox: Sandbox) -> None:
    response = await sandbox.simulator.get("/v1/balances")  # no API key
    assert response.status_code == 401
    assert response.json() == {"error": "a valid API key is required", "code": "unauthorized"}
    wrong = SandboxAdapter(sandbox.url, "not-the-key", [SECRET])
    try:
        with pytest.raises(IssuerError) as caught:
            await wrong.balances()
        assert caught.value.raw_code == "unauthorized"
        assert not caught.value.retryable
        health = await wrong.health()
        assert not health.ok
        assert "401" in health.detail
    finally:
        await wrong.aclose()


async def test_an_unreachable_issuer_is_retryable() -> None:
    adapter = SandboxAdapter("http://127.0.0.1:9", API_KEY, [SECRET], timeout=2)
    try:
        with pytest.raises(IssuerError) as caught:
            await adapter.create_card(currency="EUR", monthly_limit=1, label=None, reference="r")
        assert caught.value.retryable
        with pytest.raises(IssuerError) as caught:
            await adapter.validate_profile({"client_id": "a", "client_secret": "b"})
        assert caught.value.retryable
        assert not (await adapter.health()).ok
    finally:
        await adapter.aclose()


async def test_a_5xx_is_retryable() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "maintenance", "code": "unavailable"})

    adapter = SandboxAdapter(
        "http://issuer.test", API_KEY, [SECRET], transport=httpx.MockTransport(failing)
    )
    try:
        with pytest.raises(IssuerError) as caught:
            await adapter.freeze("card_1")
        assert caught.value.retryable
        assert caught.value.raw_code == "unavailable"
        assert "maintenance" in str(caught.value)
    finally:
        await adapter.aclose()
