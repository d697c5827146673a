"""What every answer carries (nosniff, Referrer-Policy), who may read /metrics (METRICS_TOKEN, or
only 127.0.0.1:METRICS_PORT in production), and API_DOCS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from paywarden.config import Settings
from tests.conftest import client_for, start_app
from tests.servers import free_port, free_socket

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
METRICS_TOKEN = "metrics-token-for-tests-0123456789"
UNAUTHORIZED = {
    "error": "Metrics need Authorization: Bearer <METRICS_TOKEN>",
    "code": "UNAUTHORIZED",
}


def _security(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in SECURITY}


@pytest.fixture
async def started(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., FastAPI]]:
    """Start apps with given settings; each is stopped after the test."""
    stops = []

    async def start(**overrides: object) -> FastAPI:
        if overrides.get("env") == "production":
            overrides.setdefault("encryption_keys", Fernet.generate_key().decode())
        app, lifespan = await start_app(make_settings(**overrides))
        stops.append(lifespan)
        return app

    yield start  # type: ignore[misc]
    for lifespan in reversed(stops):
        await lifespan.__aexit__(None, None, None)


async def test_every_answer_carries_nosniff_and_a_referrer_policy(app: FastAPI) -> None:
    @app.get("/boom-for-tests")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answers = {
            "json": await http.get("/healthz"),
            "404": await http.get("/no-such-page"),
            "405": await http.delete("/healthz"),
            "401": await http.get("/api/v1/admin/operators"),
            "400": await http.post("/api/v1/admin/auth/login", content=b"{not json"),
            "500": await http.get("/boom-for-tests"),
            "static": await http.get("/admin/static/console.css"),
            "static 404": await http.get("/admin/static/nothing.css"),
            "htmx": await http.get("/admin/static/htmx/htmx.min.js"),
            "devnet mount": await http.get("/devnet/wallet/getnowblock"),
            "docs": await http.get("/docs"),
        }
    assert answers["500"].status_code == 500
    assert answers["500"].json()["code"] == "INTERNAL_ERROR"
    assert answers["static"].status_code == 200
    for name, response in answers.items():
        assert _security(response) == SECURITY, (name, response.status_code)


async def test_pages_keep_their_own_stricter_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/login")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"  # the console's own, not replaced
    assert page.headers.get_list("referrer-policy") == ["same-origin"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]
    assert "nonce-" in page.headers["content-security-policy"]


async def test_metrics_are_open_in_development_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "http_requests_total" in response.text


@pytest.mark.parametrize("env", ["development", "production"])
async def test_metrics_token_is_a_bearer_token(started: Callable[..., FastAPI], env: str) -> None:
    app = await started(env=env, metrics_token=METRICS_TOKEN)
    async with client_for(app, https=True) as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            {"Authorization": METRICS_TOKEN},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
        ):
            refused = await http.get("/metrics", headers=headers)
            assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED), headers
            assert refused.headers["www-authenticate"] == "Bearer"
        ok = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200
        assert "http_requests_total" in ok.text


async def test_production_without_a_token_serves_metrics_on_localhost_only(
    started: Callable[..., FastAPI],
) -> None:
    port = free_port()
    app = await started(env="production", metrics_port=port)
    async with client_for(app, https=True) as http:
        hidden = await http.get("/metrics")
        assert (hidden.status_code, hidden.json()["code"]) == (404, "NOT_FOUND")
        await http.get("/healthz")
    async with httpx.AsyncClient(timeout=5) as real:  # over real HTTP, on 127.0.0.1
        scraped = await real.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert 'route="/healthz"' in scraped.text  # the app's own registry
        assert (await real.get(f"http://127.0.0.1:{port}/other")).status_code == 404


async def test_the_metrics_listener_stops_with_the_app(
    make_settings: Callable[..., Settings],
) -> None:
    port = free_port()
    settings = make_settings(
        env="production", metrics_port=port, encryption_keys=Fernet.generate_key().decode()
    )
    app, lifespan = await start_app(settings)
    async with httpx.AsyncClient(timeout=5) as real:
        assert (await real.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
        await lifespan.__aexit__(None, None, None)
        with pytest.raises(httpx.ConnectError):
            await real.get(f"http://127.0.0.1:{port}/metrics")
    assert app.state.issuer is None


async def test_no_metrics_listener_with_a_token_or_port_0(started: Callable[..., FastAPI]) -> None:
    port = free_port()
    await started(env="production", metrics_port=port, metrics_token=METRICS_TOKEN)
    await started(env="production", metrics_port=0)
    async with httpx.AsyncClient(timeout=5) as real:
        with pytest.raises(httpx.ConnectError):
            await real.get(f"http://127.0.0.1:{port}/metrics")


async def test_api_docs_are_on_by_default(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
    assert "/api/v1/payments" in (await client.get("/openapi.json")).json()["paths"]


async def test_api_docs_false_turns_them_off(started: Callable[..., FastAPI]) -> None:
    app = await started(api_docs=False)
    async with client_for(app) as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await http.get(path)
            assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), path
        assert (await http.get("/healthz")).status_code == 200


async def test_a_taken_metrics_port_stops_the_start(make_settings: Callable[..., Settings]) -> None:
    taken = free_socket()  # no SO_REUSEPORT: nobody may share it
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            await start_app(make_settings(env="production", metrics_port=port))
    finally:
        taken.close()
