"""Plans (with the home catalog and the EUR/USD rate), banners and support settings in the console:
the admin API's services and role checks, every change audited, every form CSRF-checked."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Banner, Plan
from tests.banners.images import PNG_1200x375, jpeg, webp_vp8x
from tests.conftest import client_for
from tests.console.helpers import csrf_for, post_form
from tests.factories import create_operator, sign_in

TARGET = "https://partner.example.com/offer?utm=paywarden"


@pytest.fixture
async def super_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in as a super_admin: the role that changes prices and the rate."""
    op = await create_operator(app.state.db, "pricing@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.transaction() as s:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list(await s.scalars(query.order_by(AuditEntry.created_at)))


async def _count(db: Database) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


PLAN = {
    "name": "Pro",
    "bullets": "Two cards\nLow fees",
    "monthly_fee": "9.99",
    "card_issue_fee": "2.50",
    "cards_included": "2",
    "max_active_cards": "5",
    "topup_fee_percent": "1.5",
    "fx_fee_percent": "0.75",
    "sort_order": "10",
}


async def _create_plan(client: httpx.AsyncClient, db: Database, **fields: str) -> Plan:
    data = {**PLAN, **fields}
    response = await post_form(client, "/admin/plans/new", "/admin/plans/new", data)
    assert response.status_code == 303, response.text
    async with db.transaction() as s:
        plan = await s.scalar(select(Plan).where(Plan.name == data["name"]))
    assert plan is not None
    return plan


# Plans


async def test_plans_empty_state_and_read_only_for_an_operator(
    admin_client: httpx.AsyncClient,
) -> None:
    page = await admin_client.get("/admin/plans")
    assert page.status_code == 200
    assert 'id="no-plans"' in page.text
    assert "A super_admin creates them" in page.text
    assert 'id="new-plan"' not in page.text
    assert 'id="rate-form"' not in page.text
    assert 'id="no-rate"' in page.text
    assert "there is no separate dollar price" in page.text  # the seed's *_usd note
    assert 'aria-current="page">Plans' in page.text
    for path in ("/admin/plans/new", f"/admin/plans/{uuid.uuid4()}/archive"):
        refused = await admin_client.get(path)
        assert refused.status_code == 403
        assert "Not allowed" in refused.text
    token = await csrf_for(admin_client, "/admin/support")
    refused = await admin_client.post(
        "/admin/plans/fx-rate", data={"csrf_token": token, "eur_usd": "1.1"}
    )
    assert refused.status_code == 403


async def test_super_admin_creates_and_edits_a_plan(
    super_client: httpx.AsyncClient, admin_client: httpx.AsyncClient, db: Database
) -> None:
    form = await super_client.get("/admin/plans/new")
    assert form.status_code == 200
    assert 'id="plan-form"' in form.text
    plan = await _create_plan(super_client, db, is_default="on")
    assert (plan.monthly_fee, plan.card_issue_fee, plan.topup_fee_bps) == (999, 250, 150)
    assert plan.is_default
    assert not plan.hidden_from_home
    [created] = await _audit(db, "plan.create")
    assert created.target_id == str(plan.id)
    assert created.actor == "pricing@example.com"

    hidden = await _create_plan(super_client, db, name="VIP", sort_order="1", hidden_from_home="on")
    page = (await admin_client.get("/admin/plans")).text  # any operator reads
    assert "9.99 EUR" in page
    assert "monthly_fee_usd 9.99" in page
    assert f'id="plan-{hidden.id}"' in page
    assert "hidden from home" in page
    # The home catalog shows what clients see: the hidden plan is left out.
    catalog = page.split('id="home-catalog"')[1].split('id="fx-rate"')[0]
    assert f'id="catalog-{plan.id}"' in catalog
    assert f'id="catalog-{hidden.id}"' not in catalog
    assert "9.99 EUR / month" in catalog
    assert "Two cards" in catalog
    api = await admin_client.get("/api/v1/admin/plans")
    assert {p["name"] for p in api.json()["data"]} == {"Pro", "VIP"}

    edit = await super_client.get(f"/admin/plans/{plan.id}/edit")
    assert edit.status_code == 200
    assert 'value="9.99"' in edit.text
    response = await post_form(
        super_client,
        f"/admin/plans/{plan.id}/edit",
        f"/admin/plans/{plan.id}/edit",
        {**PLAN, "monthly_fee": "12.00", "is_default": "on", "hidden_from_home": "on"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/plans?done=updated"
    [updated] = await _audit(db, "plan.update")
    assert updated.details["monthly_fee"] == {"from": "9.99", "to": "12.00"}
    assert updated.details["hidden_from_home"] == {"from": False, "to": True}
    page = (await super_client.get("/admin/plans?done=updated")).text
    assert "The plan is saved." in page
    assert 'id="empty-catalog"' in page  # both plans are hidden from home now


async def test_plan_form_errors_in_plain_words(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    bad = await post_form(
        super_client, "/admin/plans/new", "/admin/plans/new", {**PLAN, "monthly_fee": "abc"}
    )
    assert bad.status_code == 400
    assert 'id="monthly_fee-error"' in bad.text
    assert 'value="abc"' in bad.text
    fewer = await post_form(
        super_client, "/admin/plans/new", "/admin/plans/new", {**PLAN, "max_active_cards": "1"}
    )
    assert fewer.status_code == 400
    assert "Max active cards must be at least the cards included." in fewer.text
    await _create_plan(super_client, db)
    taken = await post_form(super_client, "/admin/plans/new", "/admin/plans/new", PLAN)
    assert taken.status_code == 409
    assert "Another plan already has this name." in taken.text
    assert len(await _audit(db, "plan.create")) == 1


async def test_default_archive_through_confirm_and_back(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    start = await _create_plan(super_client, db, name="Start", is_default="on")
    pro = await _create_plan(super_client, db)
    # The default plan cannot be archived: the page says why.
    refused = await post_form(
        super_client, f"/admin/plans/{start.id}/archive", f"/admin/plans/{start.id}/archive"
    )
    assert refused.status_code == 409
    assert "make another plan the default first" in refused.text
    assert await _audit(db, "plan.archive") == []

    made = await post_form(super_client, "/admin/plans", f"/admin/plans/{pro.id}/default")
    assert made.headers["location"] == "/admin/plans?done=default"
    [set_default] = await _audit(db, "plan.set_default")
    assert set_default.target_id == str(pro.id)
    [unset] = await _audit(db, "plan.unset_default")
    assert unset.target_id == str(start.id)

    confirm = await super_client.get(f"/admin/plans/{start.id}/archive")
    assert confirm.status_code == 200
    assert "Archive this plan?" in confirm.text
    assert ">Start<" in confirm.text
    archived = await post_form(
        super_client, f"/admin/plans/{start.id}/archive", f"/admin/plans/{start.id}/archive"
    )
    assert archived.headers["location"] == "/admin/plans?done=archived"
    [entry] = await _audit(db, "plan.archive")
    assert entry.target_id == str(start.id)
    page = (await super_client.get("/admin/plans")).text
    assert f'id="unarchive-{start.id}"' in page
    assert f'id="catalog-{start.id}"' not in page

    back = await post_form(super_client, "/admin/plans", f"/admin/plans/{start.id}/unarchive")
    assert back.headers["location"] == "/admin/plans?done=unarchived"
    assert len(await _audit(db, "plan.unarchive")) == 1


async def test_fx_rate_with_history(super_client: httpx.AsyncClient, db: Database) -> None:
    bad = await post_form(super_client, "/admin/plans", "/admin/plans/fx-rate", {"eur_usd": "42"})
    assert bad.status_code == 400
    assert "The rate must be a number from 0.1 to 10" in bad.text
    assert 'value="42"' in bad.text
    for value in ("1.0850", "1,1"):
        done = await post_form(
            super_client, "/admin/plans", "/admin/plans/fx-rate", {"eur_usd": value}
        )
        assert done.status_code == 303
    entries = await _audit(db, "fx_rate.update")
    assert [e.details["eur_usd"] for e in entries] == ["1.0850", "1.1000"]
    assert entries[1].details["previous"] == "1.0850"
    page = (await super_client.get("/admin/plans?done=rate")).text
    assert "1 EUR = 1.1000 USD" in page
    assert "The EUR/USD rate is saved." in page
    history = page.split('id="rate-history"')[1]
    assert history.index("1.1000") < history.index("1.0850")
    assert "pricing@example.com" in history


async def test_fx_history_paginates(super_client: httpx.AsyncClient, db: Database) -> None:
    token = await csrf_for(super_client, "/admin/plans")
    for i in range(12):
        await super_client.post(
            "/admin/plans/fx-rate", data={"csrf_token": token, "eur_usd": f"1.{i + 10}"}
        )
    first = (await super_client.get("/admin/plans")).text
    assert "Page 1 of 2" in first
    assert "1.2100" in first
    assert "1.1000" not in first
    second = (await super_client.get("/admin/plans?page=2")).text
    assert "1.1000" in second
    assert "1.1100" in second


async def test_plan_actions_refuse_a_missing_csrf_token(
    super_client: httpx.AsyncClient, db: Database
) -> None:
    plan = await _create_plan(super_client, db)
    before = await _count(db)
    for path in (
        "/admin/plans/new",
        f"/admin/plans/{plan.id}/edit",
        f"/admin/plans/{plan.id}/default",
        f"/admin/plans/{plan.id}/archive",
        "/admin/plans/fx-rate",
    ):
        response = await super_client.post(path, data={**PLAN, "eur_usd": "1.2"})
        assert response.status_code == 403, path
    assert await _count(db) == before


# Banners


async def _upload(
    client: httpx.AsyncClient,
    image: bytes | None,
    *,
    token: str | None = None,
    filename: str = "ad.jpg",
    **fields: str,
) -> httpx.Response:
    if token is None:
        token = await csrf_for(client, "/admin/banners")
    data = {"csrf_token": token, "page": "main", "target_url": TARGET, "active": "on", **fields}
    files = {"image": (filename, image if image is not None else b"", "image/jpeg")}
    return await client.post("/admin/banners", data=data, files=files)


async def _banners(db: Database) -> list[Banner]:
    async with db.transaction() as s:
        return list(await s.scalars(select(Banner).order_by(Banner.created_at)))


async def test_banners_tabs_guidance_and_empty_state(admin_client: httpx.AsyncClient) -> None:
    page = await admin_client.get("/admin/banners")
    assert page.status_code == 200
    for tab in ("main", "card", "3ds", "tx", "profile"):
        assert f'id="tab-{tab}"' in page.text
    assert 'id="tab-main" aria-current="page"' in page.text
    assert "1200 \u00d7 375 px" in page.text
    assert "16\u22365" in page.text
    assert "&lt; 400 KB" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert 'id="no-banners"' in page.text
    assert 'aria-current="page">Banners' in page.text


async def test_upload_a_jpeg_preview_it_and_count_clicks(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    image = jpeg()
    response = await _upload(admin_client, image)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/banners?tab=main&done=created"
    [banner] = await _banners(db)
    assert (banner.page, banner.width, banner.height) == ("main", 1200, 375)
    assert banner.active
    assert banner.content_type == "image/jpeg"
    [entry] = await _audit(db, "banner.create")
    assert entry.target_id == str(banner.id)
    assert entry.actor == "admin-client@example.com"

    page = (await admin_client.get(response.headers["location"])).text
    assert "The banner is uploaded." in page
    src = re.search(r'<img src="([^"]+)"', page)
    assert src
    assert src.group(1).startswith(f"/api/botcartd/banners/{banner.id}/image?v=")
    served = await admin_client.get(src.group(1).replace("&amp;", "&"))
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == "image/jpeg"
    assert "1200 \u00d7 375 px \u00b7 image/jpeg" in page
    assert '<dd class="clicks">0</dd>' in page

    click = await admin_client.get(f"/api/botcartd/banners/{banner.id}/click")
    assert click.status_code == 302
    page = (await admin_client.get("/admin/banners?tab=main")).text
    assert '<dd class="clicks">1</dd>' in page


async def test_upload_a_webp_on_another_tab_with_advice(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    response = await _upload(admin_client, webp_vp8x(800, 800), filename="ad.webp", page="3ds")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/banners?tab=3ds&done=created&warn=ASPECT_RATIO"
    page = (await admin_client.get(response.headers["location"])).text
    assert "Not the 16:5 shape" in page
    assert 'id="tab-3ds" aria-current="page"' in page
    assert "image/webp" in page
    main = (await admin_client.get("/admin/banners?tab=main")).text
    assert 'id="no-banners"' in main


async def test_upload_errors_re_render_the_form(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    png = await _upload(admin_client, PNG_1200x375, filename="ad.png")
    assert png.status_code == 400
    assert "Only WebP or JPEG images are accepted" in png.text
    missing = await _upload(admin_client, None, filename="")
    assert missing.status_code == 400
    assert "Choose an image file" in missing.text
    bad_url = await _upload(admin_client, jpeg(), target_url="javascript:alert(1)", page="tx")
    assert bad_url.status_code == 400
    assert 'id="target_url-error"' in bad_url.text
    assert 'value="tx" selected' in bad_url.text
    assert await _banners(db) == []
    assert await _audit(db, "banner.create") == []


async def test_switch_edit_and_delete_a_banner(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    await _upload(admin_client, jpeg())
    [banner] = await _banners(db)
    off = await post_form(
        admin_client, "/admin/banners", f"/admin/banners/{banner.id}/active", {"active": "false"}
    )
    assert off.headers["location"] == "/admin/banners?tab=main&done=deactivated"
    [entry] = await _audit(db, "banner.update")
    assert entry.details == {"active": {"from": True, "to": False}}
    listed = await admin_client.get("/api/botcartd/banners?page=main")
    assert listed.json()["data"] == []

    edit = await admin_client.get(f"/admin/banners/{banner.id}/edit")
    assert edit.status_code == 200
    assert TARGET in edit.text
    token = await csrf_for(admin_client, f"/admin/banners/{banner.id}/edit")
    new_image = webp_vp8x()
    saved = await admin_client.post(
        f"/admin/banners/{banner.id}/edit",
        data={
            "csrf_token": token,
            "page": "card",
            "target_url": "https://partner.example.com/new",
            "active": "on",
        },
        files={"image": ("new.webp", new_image, "image/webp")},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/banners?tab=card&done=updated"
    entries = await _audit(db, "banner.update")
    assert entries[-1].details["page"] == {"from": "main", "to": "card"}
    assert "image_sha256" in entries[-1].details
    [banner] = await _banners(db)
    assert banner.active
    assert banner.content_type == "image/webp"

    confirm = await admin_client.get(f"/admin/banners/{banner.id}/delete")
    assert confirm.status_code == 200
    assert "Delete this banner?" in confirm.text
    deleted = await post_form(
        admin_client, f"/admin/banners/{banner.id}/delete", f"/admin/banners/{banner.id}/delete"
    )
    assert deleted.headers["location"] == "/admin/banners?tab=card&done=deleted"
    assert await _banners(db) == []
    [gone] = await _audit(db, "banner.delete")
    assert gone.target_id == str(banner.id)
    again = await admin_client.get(f"/admin/banners/{banner.id}/delete")
    assert again.status_code == 404


async def test_banner_actions_refuse_a_missing_csrf_token(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    refused = await _upload(admin_client, jpeg(), token="forged")
    assert refused.status_code == 403
    assert "did not come from this console" in refused.text
    assert await _banners(db) == []
    await _upload(admin_client, jpeg())
    [banner] = await _banners(db)
    before = await _count(db)
    for path in ("active", "edit", "delete"):
        response = await admin_client.post(
            f"/admin/banners/{banner.id}/{path}", data={"active": "false"}
        )
        assert response.status_code == 403, path
    assert await _count(db) == before


async def test_banner_list_paginates(admin_client: httpx.AsyncClient, db: Database) -> None:
    token = await csrf_for(admin_client, "/admin/banners")
    for _ in range(11):
        assert (await _upload(admin_client, jpeg(), token=token)).status_code == 303
    first = (await admin_client.get("/admin/banners?tab=main")).text
    assert first.count('class="banner"') == 10
    assert "Page 1 of 2" in first
    second = (await admin_client.get("/admin/banners?tab=main&page=2")).text
    assert second.count('class="banner"') == 1
    assert 'id="tab-main"' in second
    assert "11</span>" in second


# Support settings


async def test_support_settings_defaults_save_and_template(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    page = await admin_client.get("/admin/support")
    assert page.status_code == 200
    assert "Never saved" in page.text
    assert "Reply-time templates (applied to “Average reply time”)" in page.text
    assert 'value="~15 minutes"' in page.text
    assert 'aria-current="page">Support' in page.text

    saved = await post_form(
        admin_client,
        "/admin/support",
        "/admin/support",
        {
            "contact": "@paywarden_support",
            "working_hours": "Mon-Fri 9:00-18:00 CET",
            "average_reply_time": "",
            "apply_template": "~15 minutes",
            "reply_time_templates": "~5 minutes\r\n~15 minutes\r\n\r\n~1 hour\r\n",
        },
    )
    assert saved.headers["location"] == "/admin/support?done=saved"
    [entry] = await _audit(db, "support_settings.update")
    assert entry.details["contact"] == {"from": "", "to": "@paywarden_support"}
    assert entry.details["average_reply_time"] == {"from": "", "to": "~15 minutes"}
    assert entry.details["reply_time_templates"]["to"] == ["~5 minutes", "~15 minutes", "~1 hour"]
    api = (await admin_client.get("/api/v1/admin/support-settings")).json()
    assert api["average_reply_time"] == "~15 minutes"
    assert api["updated_by"] == "admin-client@example.com"
    page = (await admin_client.get("/admin/support?done=saved")).text
    assert "Support settings are saved." in page
    assert "Last saved by admin-client@example.com" in page

    same = await post_form(
        admin_client,
        "/admin/support",
        "/admin/support",
        {
            "contact": "@paywarden_support",
            "working_hours": "Mon-Fri 9:00-18:00 CET",
            "average_reply_time": "~15 minutes",
            "reply_time_templates": "~5 minutes\n~15 minutes\n~1 hour",
        },
    )
    assert same.headers["location"] == "/admin/support?done=unchanged"
    assert len(await _audit(db, "support_settings.update")) == 1


async def test_support_settings_errors_and_csrf(
    admin_client: httpx.AsyncClient, db: Database
) -> None:
    bad = await post_form(
        admin_client,
        "/admin/support",
        "/admin/support",
        {"contact": "x" * 300, "reply_time_templates": "y" * 101},
    )
    assert bad.status_code == 400
    assert 'id="contact-error"' in bad.text
    assert "At most 20 templates, one a line" in bad.text
    refused = await admin_client.post("/admin/support", data={"contact": "@x"})
    assert refused.status_code == 403
    assert await _audit(db, "support_settings.update") == []
