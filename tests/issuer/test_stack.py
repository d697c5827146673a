"""The shared stack: our app over HTTP, its own adapter reaching the mounted sandbox, and the
sandbox calling back into the app."""

from __future__ import annotations

from paywarden.issuer.sandbox_service.state import SandboxState
from tests.issuer.stack import IssuerStack


async def test_the_apps_adapter_reaches_the_mounted_sandbox(issuer_stack: IssuerStack) -> None:
    stack = issuer_stack
    assert stack.settings.public_base_url == stack.url
    assert (await stack.http.get("/healthz")).status_code == 200
    card = await stack.adapter.create_card(
        currency="EUR", monthly_limit=50_000, label="Travel", reference="stack-card"
    )
    assert isinstance(stack.sandbox, SandboxState)
    assert stack.sandbox.cards[card.issuer_card_id].reference == "stack-card"
    assert (await stack.adapter.health()).ok
    assert await stack.adapter.balances() == {"EUR": 1_000_000_00, "USD": 1_000_000_00}


async def test_the_sandbox_calls_back_into_the_app(issuer_stack: IssuerStack) -> None:
    card = await issuer_stack.adapter.create_card(
        currency="EUR", monthly_limit=50_000, label=None, reference="stack-card"
    )
    answer = await issuer_stack.simulate(
        "purchase", card_id=card.issuer_card_id, amount="1.00", currency="EUR"
    )
    # Whatever our authorize endpoint answers, the round trip reached this app and came back.
    assert answer["status"] in ("approved", "declined")
    tx = issuer_stack.sandbox.transactions[answer["transaction_id"]]
    assert tx.response_code == answer["response_code"]
