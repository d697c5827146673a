"""Builds the FastAPI app: routers, error handling, observability.

The background loops are not here: `paywarden worker` runs them (the embedded `serve` starts it
as a child process). Importing or building this app never loads the sweeper or its keys (the
hot wallet key and the deposit seed): a test checks `sys.modules`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import Depends, FastAPI

from paywarden import __version__, demo, subscribers
from paywarden.addresses import service as addresses
from paywarden.audit.endpoints import router as audit_router
from paywarden.b2b.endpoints import client_router as b2b_client_router
from paywarden.b2b.endpoints import router as b2b_router
from paywarden.banners.endpoints import client_router as banners_client_router
from paywarden.banners.endpoints import router as banners_router
from paywarden.card_transaction_review.endpoints import router as card_transaction_review_router
from paywarden.card_transactions.admin_endpoints import router as issuer_events_router
from paywarden.card_transactions.endpoints import client_router as codes_3ds_router
from paywarden.card_transactions.endpoints import router as issuer_inbound_router
from paywarden.cards.admin_endpoints import router as cards_admin_router
from paywarden.cards.endpoints import cards_enabled
from paywarden.cards.endpoints import router as cards_router
from paywarden.cards_dashboard.endpoints import router as cards_dashboard_router
from paywarden.checkout.endpoints import router as checkout_router
from paywarden.client_admin.endpoints import router as client_admin_router
from paywarden.clientapp import install_clientapp
from paywarden.clients.endpoints import router as client_api_router
from paywarden.config import Settings
from paywarden.console import install_console
from paywarden.context import database, gateway_context, network
from paywarden.incidents.endpoints import router as incidents_router
from paywarden.issuer.registry import adapter_for
from paywarden.issuer.sandbox_service import mount_sandbox
from paywarden.kit.bodylimit import BodyLimitMiddleware
from paywarden.kit.errors import install_error_handlers
from paywarden.kit.headers import SecurityHeadersMiddleware
from paywarden.kit.health import router as health_router
from paywarden.kit.logging import configure_logging, get_logger
from paywarden.kit.metrics_listener import MetricsListener
from paywarden.kit.observability import Metrics, ObservabilityMiddleware
from paywarden.kit.openapi import install_openapi
from paywarden.kit.querycase import CamelQueryMiddleware
from paywarden.kit.ratelimit import RateLimiter, make_storage
from paywarden.lookup.endpoints import router as lookup_router
from paywarden.merchants import dev_receiver
from paywarden.merchants.endpoints import router as merchants_router
from paywarden.operators import repository as operator_repo
from paywarden.operators import service as operators
from paywarden.operators.endpoints import router as operators_router
from paywarden.orders.admin_endpoints import router as orders_admin_router
from paywarden.orders.endpoints import router as payments_router
from paywarden.plans.endpoints import router as plans_router
from paywarden.support.endpoints import router as support_router
from paywarden.sweeps.endpoints import router as wallet_router
from paywarden.topups import service as topups
from paywarden.treasury.calls import counted
from paywarden.treasury.endpoints import router as treasury_router
from paywarden.treasury.metrics import refresh_issuer_gauges
from paywarden.tron.devnet import mount_devnet
from paywarden.web_users import service as web_users
from paywarden.web_users.admin_endpoints import router as web_users_admin_router
from paywarden.web_users.endpoints import router as web_users_router
from paywarden.web_users.mailer import Mailer

log = get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    configure_logging(json=settings.is_production, level=settings.log_level)
    subscribers.compose()  # who reacts to the orders' and the outbox's events

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database(settings)
        app.state.db = db
        app.state.auth = operators.AuthContext(
            signing_key=settings.signing_key(),
            limiter=RateLimiter(make_storage(settings.redis_url, settings.rate_limit_prefix)),
            bootstrap_token=settings.bootstrap_token(),
            primary_email=settings.admin_email,
        )
        app.state.web_users = web_users.WebUsersContext(
            signing_key=app.state.auth.signing_key,
            limiter=app.state.auth.limiter,
            mailer=Mailer(
                smtp_url=settings.smtp_url.get_secret_value() if settings.smtp_url else None,
                sender=settings.smtp_from,
                is_production=settings.is_production,
            ),
            verify_ttl=timedelta(seconds=settings.web_verify_ttl_seconds),
            public_base_url=settings.public_base_url,
        )
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        async with db.transaction() as session:
            await operators.sync_primary(session, settings.admin_email, password)
            needs_bootstrap = await operator_repo.count_all(session) == 0
            await topups.prepare(session, settings)  # the Cards product's internal merchant
            if settings.demo_data and not settings.is_production:
                await demo.seed(session, settings.var_dir, settings.public_base_url)
            # Addresses ready before the first order, whether or not the worker has started
            # yet: the pool derives them from the xpub (no key), as the worker's loop does.
            await addresses.top_up(session, app.state.gateway.pool)
        if needs_bootstrap:
            _print_bootstrap_hint(settings)
        listener = _metrics_listener(app, settings)
        try:
            if listener is not None:
                await listener.start()  # a taken port stops the start, cleanly
            yield
        finally:
            if listener is not None:
                await listener.stop()
            app.state.auth.limiter.close()
            if app.state.issuer is not None:
                await app.state.issuer.aclose()
            await db.dispose()

    app = FastAPI(
        title="PayWarden",
        version=__version__,
        lifespan=lifespan,
        description="USDT (TRC-20) gateway and virtual card platform. Errors: "
        '`{"error": "<text>", "code": "<CODE>"}`.',
        # API_DOCS=false: no /docs, /redoc or /openapi.json (404) for who would map the API.
        **({} if settings.api_docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}),
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.gateway = gateway_context(settings)
    app.state.network = network(settings)
    # ConfigError for an unknown ISSUER; None for ISSUER=none (card routes: 503 CARDS_DISABLED).
    # Every call to it is counted in the database (the issuer error rate all replicas share).
    app.state.issuer = counted(adapter_for(settings), lambda: getattr(app.state, "db", None))
    # Gauges refreshed from the database when /metrics is scraped (kit/health.render_metrics).
    app.state.metrics_refreshers = [refresh_issuer_gauges]
    cards = [Depends(cards_enabled)]
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(operators_router)
    app.include_router(audit_router)
    app.include_router(merchants_router)
    app.include_router(orders_admin_router)
    app.include_router(incidents_router)
    app.include_router(wallet_router)
    app.include_router(plans_router)
    app.include_router(support_router)
    app.include_router(banners_router)
    app.include_router(banners_client_router)
    app.include_router(client_admin_router)
    app.include_router(cards_admin_router, dependencies=cards)
    app.include_router(card_transaction_review_router, dependencies=cards)
    app.include_router(cards_dashboard_router, dependencies=cards)
    app.include_router(treasury_router, dependencies=cards)
    app.include_router(issuer_events_router, dependencies=cards)
    app.include_router(b2b_router, dependencies=cards)
    app.include_router(lookup_router)
    app.include_router(web_users_admin_router)
    app.include_router(web_users_router)
    app.include_router(client_api_router)
    app.include_router(cards_router, dependencies=cards)
    app.include_router(codes_3ds_router, dependencies=cards)
    app.include_router(issuer_inbound_router, dependencies=cards)
    app.include_router(b2b_client_router, dependencies=cards)
    app.include_router(payments_router)
    app.include_router(checkout_router)
    install_console(app)  # the admin console under /admin
    install_clientapp(app)  # the clients' app under /app
    # Development only (settings refuse devnet and sandbox in production; this is the backstop).
    if settings.tron_network == "devnet" and not settings.is_production:
        mount_devnet(
            app,
            "/devnet",
            block_seconds=settings.devnet_block_seconds or None,
            solidify_depth=settings.devnet_solidify_depth,
        )
    if not settings.is_production:  # the demo merchant's webhook endpoint
        app.include_router(dev_receiver.router)
    if settings.issuer.strip().lower() == "sandbox" and not settings.is_production:
        _mount_sandbox_issuer(app, settings)
    install_openapi(app)
    app.add_middleware(CamelQueryMiddleware)
    app.add_middleware(BodyLimitMiddleware, settings=settings)  # inside the access log/metrics
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: 404s and static files too
    return app


def _metrics_listener(app: FastAPI, settings: Settings) -> MetricsListener | None:
    """Production without METRICS_TOKEN: /metrics only on 127.0.0.1:METRICS_PORT (0: nowhere)."""
    if not settings.is_production or settings.metrics_token is not None:
        return None
    if not settings.metrics_port:
        return None
    return MetricsListener(app.state, settings.metrics_port)


def _mount_sandbox_issuer(app: FastAPI, settings: Settings) -> None:
    """The sandbox issuer under /sandbox-issuer, with this app's key and first signing secret."""
    key, secrets = settings.issuer_key(), settings.issuer_secrets()
    assert key is not None  # development always has them (derived when unset)
    assert secrets
    mount_sandbox(
        app,
        "/sandbox-issuer",
        api_key=key,
        secret=secrets[0],
        callback_url=settings.sandbox_callback_base,
        settle_seconds=settings.sandbox_settle_seconds,
    )


def bootstrap_command(settings: Settings) -> str:
    """The curl that creates the first operator, as a shell runs it when pasted: the token is
    referenced (the variable, or the generated file), never printed."""
    token_ref = (
        "$ADMIN_BOOTSTRAP_TOKEN"
        if settings.admin_bootstrap_token
        else f"$(cat {settings.var_dir / 'bootstrap_token'})"
    )
    base = f"http://{settings.host}:{settings.port}"
    # Double quotes around the header: the shell must expand the token's reference.
    return (
        f'curl -X POST {base}/api/v1/admin/auth/bootstrap -H "X-Admin-Token: {token_ref}" '
        "-H 'Content-Type: application/json' "
        '-d \'{"email": "you@example.com", "password": "a-long-passphrase"}\''
    )


def _print_bootstrap_hint(settings: Settings) -> None:
    if settings.bootstrap_token() is None:
        log.warning("no_operator", hint="set ADMIN_EMAIL/ADMIN_PASSWORD or ADMIN_BOOTSTRAP_TOKEN")
        return
    if settings.is_production:  # JSON logs: the command is a field a log tool reads out
        log.info("no_operator_yet", next_step=bootstrap_command(settings))
        return
    # The console log quotes values with spaces: the command goes on its own line, pasteable.
    log.info("no_operator_yet", next_step="create the first operator with the command below")
    print(bootstrap_command(settings), file=sys.stderr, flush=True)
