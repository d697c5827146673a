"""Card details and 3-D Secure codes pass through the adapter and the sandbox, never the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from paywarden.config import Settings
from tests.issuer.stack import running_stack


async def test_card_details_and_codes_stay_out_of_logs(
    make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Our own logs at DEBUG; libraries at INFO (aiosqlite's DEBUG echoes SQL parameters, the
    # inbox's stored raw bodies included, which is the driver's business, not ours).
    caplog.set_level(logging.INFO)
    async with running_stack(make_settings, log_level="DEBUG") as stack:
        card = await stack.adapter.create_card(
            currency="EUR", monthly_limit=50_000, label=None, reference="logged-card"
        )
        details = await stack.adapter.card_details(card.issuer_card_id)
        logging.getLogger("paywarden.test").info("fetched %r", details)  # as code might
        answer = await stack.simulate(
            "purchase", card_id=card.issuer_card_id, amount="9.99", currency="EUR", three_ds=True
        )
        otp_event = stack.sandbox.events[answer["events"][0]]
        code = stack.adapter.parse_event(json.loads(otp_event.body)).code
    captured = capsys.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "sandbox_event_sent" in output  # the logs were captured at all
    assert details.pan not in output
    assert details.pan[:6] + "******" not in output
    assert f"cvv={details.cvv}" not in output
    assert f'"cvv":"{details.cvv}"' not in output
    assert code is not None
    assert code not in output
