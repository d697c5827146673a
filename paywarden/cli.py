"""The `paywarden` command: serve, worker, bot, migrate, and operator rescue for a locked-out
host."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import typer
import uvicorn

from paywarden.audit.context import CLI
from paywarden.config import ConfigError, Settings, load_settings
from paywarden.context import database
from paywarden.kit.errors import AppError
from paywarden.kit.logging import configure_logging
from paywarden.kit.migrations import upgrade
from paywarden.kit.money import format_usdt, parse_usdt
from paywarden.kit.supervisor import ChildProcess, parent_gone
from paywarden.operators import repository as operator_repo
from paywarden.operators import service as operators

app = typer.Typer(
    help="PayWarden: USDT gateway and virtual card platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
operator_app = typer.Typer(help="Operator accounts (for a host whose operators are locked out).")
app.add_typer(operator_app, name="operator")
ledger_app = typer.Typer(help="The wallets' double-entry ledger.")
app.add_typer(ledger_app, name="ledger")
analytics_app = typer.Typer(help="The cards analytics' rollup (card_stats).")
app.add_typer(analytics_app, name="analytics")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _development_only(what: str) -> Settings:
    """Production fails closed: a stand-in for the outside world refuses to start there."""
    settings = _settings()
    if settings.is_production:
        typer.echo(f"ENV=production: {what} is for development and tests only", err=True)
        raise typer.Exit(2)
    return settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Start no `paywarden worker` child process (nor the bot: scaled replicas)",
        ),
    ] = False,
    no_bot: Annotated[
        bool,
        typer.Option(
            "--no-bot", help="Start no `paywarden bot` child process, even with TELEGRAM_BOT_TOKEN"
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes, each with its own DB_POOL_SIZE pool")
    ] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Production without METRICS_TOKEN: serve /metrics on 127.0.0.1:PORT "
            "(default METRICS_PORT, 9464; 0: nowhere)",
        ),
    ] = None,
) -> None:
    """Run the HTTP app and, unless --no-worker, one `paywarden worker` as a child process
    (restarted if it dies, stopped with the server): the hot wallet key stays out of the API.
    With TELEGRAM_BOT_TOKEN set, `paywarden bot` runs beside it the same way (unless --no-bot
    or --no-worker)."""
    settings = _settings()
    configure_logging(json=settings.is_production, level=settings.log_level)
    bind(settings, host, port, metrics_port)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "log_config": None,
        "access_log": False,
    }
    from paywarden.app import create_app

    try:
        _prepare_shared_files(settings)
        # --workers N: each server process builds its own app from its settings, read again.
        application: Any = (
            create_app(settings) if workers == 1 else "paywarden.asgi:create_app_from_env"
        )
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # What the other processes read: this command's choices.
    os.environ.update(
        HOST=settings.host, PORT=str(settings.port), METRICS_PORT=str(settings.metrics_port)
    )
    # uvicorn re-raises the SIGTERM it shut down on: end here, so the worker is stopped too.
    signal.signal(signal.SIGTERM, _terminated)
    child = None if no_worker else worker_child()
    with_bot = settings.telegram_bot_token is not None and not (no_worker or no_bot)
    bot = bot_child() if with_bot else None
    try:
        with child or contextlib.nullcontext(), bot or contextlib.nullcontext():
            uvicorn.run(application, factory=workers > 1, workers=workers, **options)
    except Terminated:
        pass
    if child is not None and child.fatal_code is not None:
        typer.echo("configuration error: the worker could not start (its output above)", err=True)
        raise typer.Exit(2)


def worker_child() -> ChildProcess:
    """`paywarden worker` with this process's environment (serve's choices included). Its
    configuration error (exit 2: keys that do not fit) stops `serve` too, as at a start."""
    return ChildProcess(
        "worker",
        [sys.executable, "-m", "paywarden", "worker"],
        fatal_codes={2},
        on_fatal=lambda _: os.kill(os.getpid(), signal.SIGTERM),
    )


def bot_child() -> ChildProcess:
    """`paywarden bot` beside the server. A token Telegram refuses (exit 2) stops the bot
    only: the API and the Mini App go on serving (the child's error is in the log)."""
    return ChildProcess("bot", [sys.executable, "-m", "paywarden", "bot"], fatal_codes={2})


class Terminated(Exception):
    """SIGTERM: `serve` shuts down (uvicorn first, then the worker child)."""


def _terminated(*_: object) -> None:
    raise Terminated


def local_base_url(host: str, port: int) -> str:
    """The URL a browser on this machine reaches `serve --host HOST --port PORT` at."""
    try:
        anywhere = ipaddress.ip_address(host).is_unspecified  # 0.0.0.0 or ::
    except ValueError:
        anywhere = not host  # a name (localhost, a host name) is used as it is
    if anywhere:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind(settings: Settings, host: str | None, port: int | None, metrics_port: int | None) -> None:
    """Apply serve's options. In development without PUBLIC_BASE_URL, checkout links and the
    embedded sandbox issuer follow the real host and port (not the default port 8000); an
    explicit PUBLIC_BASE_URL always wins. The derived value goes into the environment too, for
    the processes serve starts (they read their settings again)."""
    if host:
        settings.host = host
    if port:
        settings.port = port
    if metrics_port is not None:
        settings.metrics_port = metrics_port
    if not settings.is_production and "public_base_url" not in settings.model_fields_set:
        settings.public_base_url = local_base_url(settings.host, settings.port)
        os.environ["PUBLIC_BASE_URL"] = settings.public_base_url


def _prepare_shared_files(settings: Settings) -> None:
    """Create the generated development secrets once, before the processes `serve` starts (the
    worker child, the --workers server processes) race to create them."""
    from paywarden.context import resolve_xpub

    settings.signing_key()
    settings.bootstrap_token()
    resolve_xpub(settings)


@app.command()
def worker() -> None:
    """Run the background loops only (the one process given the hot wallet key)."""
    from paywarden.worker import run_worker

    settings = _settings()
    configure_logging(json=settings.is_production, level=settings.log_level)
    # A ConfigError (keys that do not fit, an unknown ISSUER) comes before any loop: exit 2.
    _run_until_stopped(lambda stop: run_worker(settings, stop))


@app.command()
def bot(
    poll_timeout: Annotated[
        int, typer.Option(min=1, max=50, help="Seconds a long poll waits for updates")
    ] = 25,
) -> None:
    """Run the Telegram bot: its commands, and the notifications' sender. Long polling, or
    webhook mode with TELEGRAM_WEBHOOK_URL; one process per token (a second one stands by)."""
    from paywarden.bot.runner import run_bot

    settings = _settings()
    if settings.telegram_bot_token is None:
        typer.echo(
            "configuration error: TELEGRAM_BOT_TOKEN is not set (the bot's token from BotFather)",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging(json=settings.is_production, level=settings.log_level)
    _run_until_stopped(lambda stop: run_bot(settings, stop, poll_timeout=poll_timeout))


def _run_until_stopped(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """A long-running command: until SIGINT/SIGTERM, or until the `serve` that started it is
    gone; its configuration error exits 2."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        orphaned = asyncio.create_task(parent_gone())  # started by `serve`: stop with it
        orphaned.add_done_callback(lambda _: stop.set())
        try:
            await run(stop)
        finally:
            orphaned.cancel()

    try:
        asyncio.run(main())
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""
    settings = _settings()

    async def main() -> None:
        db = database(settings)
        try:
            await upgrade(db.engine, settings=settings)  # 0011 encrypts under ENCRYPTION_KEYS
        finally:
            await db.dispose()

    asyncio.run(main())
    typer.echo("database at the latest migration")


@app.command()
def rekey(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction")] = 200,
) -> None:
    """Re-encrypt every secret stored encrypted under the first key of ENCRYPTION_KEYS (and of
    B2B_ENCRYPTION_KEY): run after putting a new key first, before dropping the old one."""
    from paywarden.rekey import rekey as rekey_all

    settings = _settings()
    report = asyncio.run(rekey_all(settings, batch=batch))
    for label, t in report.items():
        typer.echo(f"{label}: {t.checked} checked, {t.rekeyed} re-encrypted, {t.failed} failed")
    failed = sum(t.failed for t in report.values())
    if failed:
        typer.echo(
            f"{failed} value(s) no key opens: put back the key that made them, then run again",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo("every encrypted value is under the first key")


devnet_app = typer.Typer(help="The TRON devnet: run it alone, or pay an order on it.")
app.add_typer(devnet_app, name="devnet")


@devnet_app.callback(invoke_without_command=True)
def devnet(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind")] = 8090,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    block_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds between blocks (0: only on POST /devnet/mine)")
    ] = 3.0,
    solidify_depth: Annotated[
        int, typer.Option(min=0, help="Blocks under the head before one is solidified")
    ] = 19,
) -> None:
    """Run the TRON devnet alone: TronGrid's API at http://HOST:PORT/devnet (state in memory)."""
    if ctx.invoked_subcommand is not None:
        return
    _development_only("the devnet")
    from fastapi import FastAPI

    from paywarden.tron.devnet import mount_devnet

    configure_logging(json=False, level="INFO")
    root = FastAPI(title="PayWarden TRON devnet", docs_url=None, redoc_url=None, openapi_url=None)
    mount_devnet(
        root, "/devnet", block_seconds=block_seconds or None, solidify_depth=solidify_depth
    )
    typer.echo(f"TronGrid base URL: http://{host}:{port}/devnet (a restart starts a fresh chain)")
    typer.echo(f"Explorer: http://{host}:{port}/devnet/explorer/")
    uvicorn.run(root, host=host, port=port, log_config=None, access_log=False)


@devnet_app.command("pay")
def devnet_pay(
    order_id: Annotated[str, typer.Argument(help="The order's id (as the merchant API gave it)")],
    amount: Annotated[
        str | None, typer.Option(help="USDT to send (default: what the order still expects)")
    ] = None,
    mine: Annotated[
        bool, typer.Option(help="Mine the blocks to finality now, instead of waiting ~1 min")
    ] = True,
) -> None:
    """Pay an order from a devnet customer, as a shopper's wallet would: a signed USDT transfer to
    its deposit address on the devnet the app reads: TRONGRID_URL when set, else the one the
    running app serves (PUBLIC_BASE_URL/devnet)."""
    settings = _settings()
    if settings.tron_network != "devnet":
        typer.echo(
            f"TRON_NETWORK is {settings.tron_network}: there is no devnet to pay on", err=True
        )
        raise typer.Exit(2)
    try:
        oid = uuid.UUID(order_id)
        micro = None if amount is None else parse_usdt(amount)
    except ValueError as exc:
        typer.echo(f"not an order id or a USDT amount: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def find() -> tuple[str, int]:
        from paywarden.orders import service as orders

        db = database(settings)
        try:
            async with db.transaction() as session:
                order = await orders.get(session, oid)
                return order.address, order.amount_expected - order.amount_received
        finally:
            await db.dispose()

    try:
        address, left = asyncio.run(find())
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    micro = left if micro is None else micro
    if micro <= 0:
        typer.echo("the order expects nothing more: pass --amount to pay it anyway", err=True)
        raise typer.Exit(1)
    # A devnet of its own (TRONGRID_URL, as the scaled set-up runs it), else the app's own.
    urls = settings.trongrid_base_urls
    control = urls[0] if urls else f"{settings.public_base_url}/devnet"
    with httpx.Client(base_url=control, timeout=10) as http:
        paid = http.post("/pay", json={"to": address, "amount": micro})
        if paid.status_code != 200:
            typer.echo(f"the devnet at {control} refused: {paid.text}", err=True)
            raise typer.Exit(1)
        typer.echo(f"paid {format_usdt(micro)} USDT to {address}: {paid.json()['tx_hash']}")
        if mine:  # the block holding it, then enough on top for it to be solidified
            http.post(
                "/mine", json={"blocks": settings.devnet_solidify_depth + 1}
            ).raise_for_status()
            typer.echo("mined to finality: the worker confirms the order on its next scan")
        else:
            seconds = (settings.devnet_solidify_depth + 1) * settings.devnet_block_seconds
            typer.echo(f"final in about {seconds:.0f} s ({settings.devnet_solidify_depth} blocks)")


@app.command("sandbox-issuer")
def sandbox_issuer(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind")] = 8091,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    callback_url: Annotated[
        str | None,
        typer.Option(help="Where to send authorizations and webhooks (default: the app's URL)"),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="PAYWARDEN_SANDBOX_SECRET",
            help="Signing secret (default: the first of ISSUER_WEBHOOK_SECRETS)",
        ),
    ] = None,
    settle_seconds: Annotated[
        float | None, typer.Option(min=0, help="Seconds before a purchase settles (0: by hand)")
    ] = None,
) -> None:
    """Run the sandbox card issuer alone at http://HOST:PORT (state in memory); point the app
    at it with ISSUER_URL=http://HOST:PORT."""
    from paywarden.issuer.sandbox_service import create_sandbox_app

    settings = _development_only("the sandbox issuer")
    key, secrets = settings.issuer_key(), settings.issuer_secrets()
    if not key or not (secret or secrets):
        typer.echo("configuration error: set ISSUER_API_KEY and ISSUER_WEBHOOK_SECRETS", err=True)
        raise typer.Exit(2)
    configure_logging(json=settings.is_production, level=settings.log_level)
    sandbox = create_sandbox_app(
        api_key=key,
        secret=secret or secrets[0],
        callback_url=callback_url or settings.sandbox_callback_base,
        settle_seconds=(
            settings.sandbox_settle_seconds if settle_seconds is None else settle_seconds
        ),
    )
    typer.echo(f"sandbox issuer at http://{host}:{port} (a restart starts afresh)")
    uvicorn.run(sandbox, host=host, port=port, log_config=None, access_log=False)


@operator_app.command("create")
def operator_create(
    email: Annotated[str, typer.Option(help="Email to sign in with")],
    password: Annotated[
        str,
        typer.Option(
            prompt="Password (at least 12 characters)",
            hide_input=True,
            confirmation_prompt=True,
            envvar="PAYWARDEN_OPERATOR_PASSWORD",
            help="Asked for when not in $PAYWARDEN_OPERATOR_PASSWORD; never pass it as an argument",
        ),
    ],
    role: Annotated[str, typer.Option(help="super_admin or operator")] = "operator",
) -> None:
    """Add an operator (audited as `cli`); 2FA is set at their first sign-in."""
    if role not in ("super_admin", "operator"):
        raise typer.BadParameter("role must be super_admin or operator")
    if len(password) < 12:
        typer.echo("password too short: at least 12 characters", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def main() -> None:
        db = database(settings)
        try:
            async with db.transaction() as session:
                await operators.create_operator(
                    session, email=email, password=password, role=role, actor=CLI
                )
        finally:
            await db.dispose()

    _run_or_exit(main())
    typer.echo(f"operator {email} created; 2FA is set at the first sign-in")


@operator_app.command("reset-2fa")
def operator_reset_2fa(email: Annotated[str, typer.Option(help="The operator's email")]) -> None:
    """Clear an operator's 2FA so that the next sign-in enrolls again (audited as `cli`)."""
    settings = _settings()

    async def main() -> None:
        db = database(settings)
        try:
            async with db.transaction() as session:
                operator = await operator_repo.get_by_email(session, email)
                if operator is None:
                    typer.echo(f"no operator {email}", err=True)
                    raise typer.Exit(1)
                await operators.reset_2fa(session, operator.id, CLI)
        finally:
            await db.dispose()

    _run_or_exit(main())
    typer.echo(f"2FA cleared for {email}; they enroll again at the next sign-in")


@ledger_app.command("check")
def ledger_check(
    fix: Annotated[
        bool, typer.Option("--fix", help="Rebuild differing cached balances (audited as `cli`)")
    ] = False,
) -> None:
    """Recompute every balance from the postings and check every transaction sums to zero.

    Prints each difference and exits 1 on any (0 when the ledger is consistent). With --fix the
    cached balances are rebuilt from the postings; transactions are append-only and never fixed.
    """
    from paywarden.wallets import service as wallets

    settings = _settings()

    async def main() -> bool:
        db = database(settings)
        try:
            async with db.transaction() as session:
                report = await wallets.check(session)
            for line in report.lines():
                typer.echo(line)
            if fix and report.balances:
                async with db.transaction() as session:
                    fixed = await wallets.rebuild_balances(session, CLI)
                typer.echo(f"rebuilt {len(fixed)} cached balance(s) from the postings")
                async with db.transaction() as session:
                    report = await wallets.check(session)
            return report.ok
        finally:
            await db.dispose()

    if not asyncio.run(main()):
        typer.echo("ledger check: differences found", err=True)
        raise typer.Exit(1)
    typer.echo("ledger check: every balance equals its postings; every transaction sums to zero")


@app.command()
def reconcile(
    since: Annotated[
        str | None,
        typer.Option(
            help="Only orders, transfers, sweeps and top-ups created from this UTC "
            "date or ISO time on (e.g. 2026-12-01)"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout")
    ] = False,
) -> None:
    """Check the books against the chain (through TRONGRID_URL) and against themselves:
    read-only. Exits 0 when everything holds, 1 with every difference, 2 when it cannot run
    (no database, TronGrid unreachable, bad arguments)."""
    from sqlalchemy.exc import SQLAlchemyError

    from paywarden.context import scanner_config, trongrid_client
    from paywarden.reconcile import report as render
    from paywarden.reconcile import service as reconciliation
    from paywarden.reconcile.options import options_for
    from paywarden.tron.client import TronGridError

    start = _since(since)
    settings = _settings()
    if not _database_exists(settings.database_url):
        typer.echo(f"cannot reconcile: no database at {settings.database_url}", err=True)
        raise typer.Exit(2)
    cfg = scanner_config(settings)
    options = options_for(settings, start)
    show = sys.stderr.isatty() and not as_json

    def progress(check: str, done: int) -> None:
        if show:
            typer.echo(f"\r{check}: {done} checked   ", err=True, nl=False)

    async def main() -> Any:
        db = database(settings)
        try:
            async with trongrid_client(cfg) as client:
                return await reconciliation.run(db, client, options, progress)
        finally:
            await db.dispose()

    try:
        result = asyncio.run(main())
    except (TronGridError, SQLAlchemyError, OSError) as exc:
        typer.echo(f"cannot reconcile: {exc}", err=True)
        raise typer.Exit(2) from exc
    if show:
        typer.echo("", err=True)
    if as_json:
        typer.echo(render.as_json(result))
    else:
        for line in render.as_text(result):
            typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)


def _since(value: str | None) -> Any:
    """--since as an aware UTC datetime (a date is its midnight); a bad value exits 2."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"not a date or ISO time: {value}", param_hint="--since") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _database_exists(url: str) -> bool:
    """A SQLite file that is not there would be created empty by connecting: say so instead."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return os.path.exists(parsed.database)


@analytics_app.command("check")
def analytics_check() -> None:
    """Compare the rollup the database triggers kept with a rebuild from the rows (read-only:
    the rebuild is rolled back). Exits 1 and prints each differing bucket, 0 when equal."""
    from paywarden.card_stats import service as card_stats

    settings = _settings()

    async def main() -> list[str]:
        db = database(settings)
        try:
            async with db.sessions() as session:
                kept = await card_stats.as_stored(session)
                await card_stats.rebuild(session)
                rebuilt = await card_stats.as_stored(session)
                await session.rollback()
        finally:
            await db.dispose()
        return card_stats.differences(kept, rebuilt)

    lines = asyncio.run(main())
    for line in lines:
        typer.echo(line)
    if lines:
        typer.echo("analytics check: the rollup differs from its rows", err=True)
        raise typer.Exit(1)
    typer.echo("analytics check: the rollup equals a rebuild from the rows")


@analytics_app.command("rebuild")
def analytics_rebuild() -> None:
    """Recompute the rollup from the rows: after a bulk load, or when `analytics check` finds a
    difference. Writers wait while it runs (seconds for millions of rows)."""
    from paywarden.audit import service as audit
    from paywarden.card_stats import service as card_stats

    settings = _settings()

    async def main() -> int:
        db = database(settings)
        try:
            async with db.transaction() as session:  # an operator's action: audited, as `cli`
                await card_stats.rebuild(session)
                buckets = len(await card_stats.as_stored(session))
                audit.record(session, CLI, "analytics.rebuild", details={"buckets": buckets})
                return buckets
        finally:
            await db.dispose()

    started = time.monotonic()
    rows = asyncio.run(main())
    typer.echo(f"analytics rebuild: {rows} bucket(s) in {time.monotonic() - started:.1f} s")


def _run_or_exit(coro: object) -> None:
    from paywarden.kit.errors import AppError

    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except AppError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
