"""The pool against the real sandbox issuer over HTTP: its token flow decides which profiles
are saved, and a client redeems one through the client API."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from paywarden.b2b.crypto import vault_for
from paywarden.config import Settings
from paywarden.models import B2bProfile
from tests.clients.test_auth import BOT_TOKEN, bot_headers, make_client
from tests.factories import create_operator, sign_in
from tests.issuer.stack import running_stack


async def test_upload_through_the_sandbox_token_flow_then_redeem(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_stack(make_settings, bot_api_token=BOT_TOKEN) as stack:
        op = await create_operator(stack.db, "sandbox-pool@example.com", role="super_admin")
        await sign_in(stack.http, op)
        group = (await stack.http.post("/api/v1/admin/b2b-groups", json={"name": "EU"})).json()
        upload = [
            {"client_id": "alpha", "client_secret": "s3cret-alpha", "label": "Alpha Ltd"},
            {"client_id": "beta", "client_secret": "bad-beta"},  # the sandbox refuses "bad…"
            {"client_id": "gamma", "client_secret": "s3cret-gamma", "external_id": "acct_gamma"},
        ]
        response = await stack.http.post(
            "/api/v1/admin/b2b-profiles", json=upload, params={"group_id": group["id"]}
        )
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["saved"] == 2
        assert [(r["external_id"], r["ok"]) for r in report["results"]] == [
            ("acct_alpha", True),
            (None, False),
            ("acct_gamma", True),
        ]
        assert report["results"][1]["reason"].startswith("token refused by the issuer")
        assert "s3cret" not in response.text

        async with stack.db.transaction() as session:
            stored = (await session.scalars(select(B2bProfile))).all()
        assert {p.issuer for p in stored} == {stack.adapter.name}
        vault = vault_for(stack.settings)
        assert sorted(vault.decrypt(p.secret_encrypted)["client_secret"] for p in stored) == [
            "s3cret-alpha",
            "s3cret-gamma",
        ]

        made = await stack.http.post(
            f"/api/v1/admin/b2b-groups/{group['id']}/invites", json={"max_uses": 1}
        )
        await make_client(stack.db, "tg_5001")
        redeemed = await stack.http.post(
            "/api/botcartd/b2b/redeem",
            json={"code": made.json()["code"]},
            params={"externalUserId": "tg_5001"},
            headers=bot_headers(),
        )
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["profile"]["external_id"] == "acct_alpha"  # the oldest first
