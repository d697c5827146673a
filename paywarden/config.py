"""Settings from the environment and `.env`; every variable is documented in `.env.example`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/paywarden.db"
# Room in a banner upload for its text fields and the multipart framing around the image.
BANNER_FORM_SLACK = 64 * 1024


class ConfigError(RuntimeError):
    """The configuration cannot run; the message says what to set."""


# USDT amounts given as text, each with the example its error shows.
_USDT_AMOUNTS: dict[str, str] = {"underpay_tolerance": "'0.01'", "sweep_min_amount": "'1'"}
# Decimals read from text through the one amount parser (pydantic's Decimal would take "1e0",
# "1_0" and Unicode digits): their decimal places and what a good value looks like.
_DECIMALS: dict[str, tuple[int, str]] = {
    "usdt_usd_rate": (6, "a decimal like '1' or '0.998' (6 decimals)"),
    "issuer_runway_alert_days": (2, "a number of days like '3' or '2.5'"),
}


class Settings(BaseSettings):
    # Inputs stay out of error messages: several settings are secrets (SMTP_URL holds a password).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    # Connections each PostgreSQL engine keeps per process, and how many more it may open at peaks.
    db_pool_size: int = Field(default=5, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)
    # Test each pooled connection with a round trip before use (survives a database restart).
    db_pool_pre_ping: bool = True
    # Seconds a request waits for a free connection; past it the answer is 503 SERVICE_BUSY.
    db_pool_timeout: float = Field(default=30.0, gt=0, le=300)
    secret_key: SecretStr | None = None
    var_dir: Path = Path("./var")

    admin_bootstrap_token: SecretStr | None = None
    admin_email: str | None = None
    admin_password: SecretStr | None = None

    redis_url: str | None = None
    rate_limit_prefix: str = "paywarden"
    report_timezone: str = "UTC"

    # Gateway
    xpub: str | None = None
    address_pool_min_free: int = Field(default=50, ge=1, le=100_000)
    address_reuse_cooldown: int = Field(default=86_400, ge=0)  # seconds
    merchant_rate_limit: str = "50/second"
    public_base_url: str = "http://127.0.0.1:8000"
    # Development only: on an empty database, create a demo merchant (key in var/demo_api_key).
    demo_data: bool = True
    # Seconds to wait before each retry of a failed merchant webhook (comma-separated); one
    # delivery makes at most len(delays) + 1 attempts (10 by default), each delay +0-10% jitter.
    webhook_retry_delays: str = "10,30,60,300,900,1800,3600,7200,14400"
    # Production refuses webhook URLs resolving to private/loopback/link-local/reserved addresses
    # unless this is true; development always allows them.
    webhook_allow_private: bool = False
    # Production accepts only https webhook and callback URLs unless this is true (then http too).
    webhook_allow_http: bool = False

    # TRON and sweeping (the chain and sweep issues use these; the wallet page shows them)
    tron_network: Literal["mainnet", "nile", "shasta", "devnet"] = "devnet"
    trongrid_url: str | None = None
    # Comma-separated TronGrid endpoints tried in order (failover); empty: TRONGRID_URL or preset.
    trongrid_urls: str = ""
    trongrid_api_key: SecretStr | None = None
    # The built-in devnet (TRON_NETWORK=devnet): seconds per block (0: only on /devnet/mine),
    # and how far below the head a block is solidified.
    devnet_block_seconds: float = Field(default=3.0, ge=0)
    devnet_solidify_depth: int = Field(default=19, ge=0)
    # The chain scanner: seconds between passes, blocks read at most per pass (backfill runs
    # pass after pass at this pace), and the block to start at on an empty database (unset: an
    # hour below the head).
    scan_interval_seconds: float = Field(default=1.0, gt=0)
    scan_batch_blocks: int = Field(default=200, ge=1, le=10_000)
    scan_start_block: int | None = Field(default=None, ge=0)
    # USDT an order may fall short by and still be confirmed (a decimal string, e.g. "0.01").
    underpay_tolerance: str = "0"
    sweep_enabled: bool = False
    sweep_mode: Literal["burn", "delegate"] = "burn"
    cold_wallet_address: str | None = None
    hot_wallet_alert_trx: int = Field(default=100, ge=0)
    # Keys: read only by the sweeper (give them to `paywarden worker` alone when scaled out).
    # The hot wallet's private key (64 hex characters): it pays the sweeps' TRX.
    hot_wallet_key: SecretStr | None = None
    # The mnemonic whose m/44'/195'/0' xpub is XPUB (checked at the worker's start), or a file
    # holding it; it signs each deposit address's transfer to the cold wallet.
    sweep_seed: SecretStr | None = None
    sweep_seed_file: Path | None = None
    # USDT below which a deposit address is not swept yet (it waits and accumulates).
    sweep_min_amount: str = "1"

    # Cards: web sign-ups. Seconds a verification link stays valid.
    web_verify_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # smtp://user:pass@host:port or smtps://… (implicit TLS); empty: links are logged
    # (development) or sign-up is refused (production).
    smtp_url: SecretStr | None = None
    smtp_from: str = "PayWarden <no-reply@localhost>"

    # Cards: the client API. The bot backend's shared secret (header X-Bot-Token); unset: off.
    bot_api_token: SecretStr | None = None
    # The Telegram bot's token: it checks Mini App initData (X-Telegram-Init-Data); unset: off.
    telegram_bot_token: SecretStr | None = None
    # Seconds a Mini App's initData stays acceptable after its auth_date.
    telegram_init_max_age: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # The bot (`paywarden bot`): the Bot API server (another one, e.g. a local telegram-bot-api,
    # or the tests' fake); empty: Telegram's.
    telegram_api_url: str = "https://api.telegram.org"
    # Webhook mode when set (the public HTTPS URL Telegram posts updates to, proxied to
    # TELEGRAM_WEBHOOK_LISTEN); unset: long polling.
    telegram_webhook_url: str | None = None
    # The secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token; unset: derived from the token.
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen: str = "127.0.0.1:8081"

    # Cards: USDT top-ups. USD credited per USDT received (a decimal), and the largest top-up
    # a client may ask for, in whole USDT.
    usdt_usd_rate: Decimal = Field(default=Decimal("1"), gt=0, le=10, decimal_places=6)
    topup_max_usdt: int = Field(default=100_000, ge=1, le=10_000_000)

    # Cards: partner ads. The largest banner image accepted (bytes); larger uploads get 413.
    banner_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    # Request bodies (413 PAYLOAD_TOO_LARGE past them, counted while they stream in): any body
    # (JSON, forms), and a B2B profile upload (a JSON array of up to 500 profiles). A banner
    # upload may carry BANNER_MAX_BYTES plus 64 KB for its text fields and multipart framing.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    b2b_upload_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # Cards: the card issuer. ISSUER names the adapter (paywarden/issuer/registry.py); `none`
    # runs the gateway alone (card routes answer 503 CARDS_DISABLED). Production refuses sandbox.
    issuer: str = "sandbox"
    # The issuer's API base URL; empty: the embedded sandbox, PUBLIC_BASE_URL/sandbox-issuer.
    issuer_url: str | None = None
    # Our API key at the issuer, and the secrets its requests to us are signed with
    # (comma-separated: two during a rotation). Empty in development: derived from SECRET_KEY.
    issuer_api_key: SecretStr | None = None
    issuer_webhook_secrets: SecretStr | None = None
    # The sandbox issuer: seconds before an approved purchase settles (0: only on
    # /simulate/settle), and where it sends authorizations and webhooks (empty: PUBLIC_BASE_URL).
    sandbox_settle_seconds: float = Field(default=5.0, ge=0)
    sandbox_callback_url: str | None = None
    # Cards: the issuer float's low-float alert (an `issuer_float_low` incident, once per
    # crossing). Runway days under this (a decimal, 0: never); a balance under these amounts
    # (EUR / USD money strings like "5000.00"; empty: no balance alert for that currency).
    issuer_runway_alert_days: Decimal = Field(default=Decimal("3"), ge=0, le=3650, decimal_places=2)
    issuer_balance_alert_eur: str | None = None
    issuer_balance_alert_usd: str | None = None

    # Cards: the B2B profile pool. Fernet keys (comma-separated, the first encrypts, all
    # decrypt: rotation) for the profiles' issuer credentials. Unset: development derives one
    # from SECRET_KEY; production refuses uploads (503 B2B_KEY_MISSING).
    b2b_encryption_key: SecretStr | None = None

    # Secrets at rest (TOTP secrets, merchants' webhook secrets, 3-D Secure codes; B2B profiles
    # when B2B_ENCRYPTION_KEY is unset): comma-separated Fernet keys, the first encrypts, all
    # decrypt; rotate with `paywarden rekey`. Unset: development derives one from SECRET_KEY;
    # production refuses to start.
    encryption_keys: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "INFO"

    # /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set. Production without it
    # serves the metrics only on 127.0.0.1:METRICS_PORT (0: nowhere), never on the main app.
    metrics_token: SecretStr | None = None
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # /docs, /redoc and /openapi.json; false answers 404 there.
    api_docs: bool = True

    @field_validator(
        # Optional settings: a blank value (an empty `KEY=` in .env) is no value.
        "admin_email",
        "redis_url",
        "xpub",
        "trongrid_url",
        "cold_wallet_address",
        "issuer_url",
        "sandbox_callback_url",
        "scan_start_block",
        # Secrets too: a blank one is not set.
        "admin_bootstrap_token",
        "admin_password",
        "secret_key",
        "trongrid_api_key",
        "hot_wallet_key",
        "sweep_seed",
        "sweep_seed_file",
        "smtp_url",
        "bot_api_token",
        "telegram_bot_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "issuer_api_key",
        "issuer_webhook_secrets",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("b2b_encryption_key", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return None if isinstance(value, str) else value
        for key in value.split(","):
            try:
                raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raw = b""
            if len(raw) != 32:  # the key itself stays out of the message
                raise ValueError("B2B_ENCRYPTION_KEY must be Fernet keys (url-safe base64)")
        return value

    @field_validator("admin_email")
    @classmethod
    def _normalize_email(cls, value: str | None) -> str | None:
        return value.strip().lower() if value else None

    @field_validator("merchant_rate_limit")
    @classmethod
    def _rate_limit_rule(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"MERCHANT_RATE_LIMIT {value!r} is not like '50/second'") from exc
        return value

    @field_validator("webhook_retry_delays")
    @classmethod
    def _retry_delays(cls, value: str) -> str:
        try:
            delays = [int(part) for part in value.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError(
                f"WEBHOOK_RETRY_DELAYS {value!r} is not like '10,30,60' (seconds)"
            ) from exc
        if not delays or any(d < 0 for d in delays):
            raise ValueError("WEBHOOK_RETRY_DELAYS needs at least one delay, none negative")
        return value

    @field_validator(*_USDT_AMOUNTS)
    @classmethod
    def _usdt_amount(cls, value: str, info: ValidationInfo) -> str:
        from paywarden.kit.money import parse_usdt

        field = info.field_name or ""
        try:
            parse_usdt(value.strip())
        except ValueError as exc:
            raise ValueError(
                f"{field.upper()} {value!r} is not a decimal USDT amount"
                f" like {_USDT_AMOUNTS[field]}"
            ) from exc
        return value.strip()

    @field_validator(*_DECIMALS, mode="before")
    @classmethod
    def _decimal(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        from paywarden.kit.money import parse_rate

        field = info.field_name or ""
        places, expected = _DECIMALS[field]
        try:
            return parse_rate(value.strip(), places, what=field.upper())
        except ValueError as exc:
            raise ValueError(f"{field.upper()} {value!r} is not {expected}") from exc

    @field_validator("issuer_balance_alert_eur", "issuer_balance_alert_usd", mode="before")
    @classmethod
    def _balance_alert(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        from paywarden.kit.money import CENT_DECIMALS, parse_amount

        name = (info.field_name or "").upper()
        try:
            parse_amount(value.strip(), CENT_DECIMALS, max_units=10**14 - 1, what=name)
        except ValueError as exc:
            raise ValueError(f"{name} {value!r} is not an amount like '5000.00'") from exc
        return value.strip()

    def issuer_balance_alerts(self) -> dict[str, int]:
        """ISSUER_BALANCE_ALERT_EUR / _USD in cents, only the currencies that have one."""
        from paywarden.kit.money import CENT_DECIMALS, parse_amount

        alerts = {"EUR": self.issuer_balance_alert_eur, "USD": self.issuer_balance_alert_usd}
        return {c: parse_amount(v, CENT_DECIMALS) for c, v in alerts.items() if v is not None}

    @field_validator("cold_wallet_address")
    @classmethod
    def _cold_wallet(cls, value: str | None) -> str | None:
        from paywarden.tron.keys import is_tron_address

        if value is not None and not is_tron_address(value.strip()):
            raise ValueError(f"COLD_WALLET_ADDRESS {value!r} is not a TRON address (T...)")
        return value.strip() if value else None

    @field_validator("hot_wallet_key")
    @classmethod
    def _hot_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip().removeprefix("0x")
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise ValueError("HOT_WALLET_KEY must be a private key of 64 hex characters")
        return SecretStr(raw.lower())

    @property
    def sweep_min_amount_units(self) -> int:
        """SWEEP_MIN_AMOUNT in micro-USDT."""
        from paywarden.kit.money import parse_usdt

        return parse_usdt(self.sweep_min_amount)

    def sweep_mnemonic(self) -> str | None:
        """SWEEP_SEED, or the contents of SWEEP_SEED_FILE (for the sweeper only)."""
        if self.sweep_seed is not None:
            return " ".join(self.sweep_seed.get_secret_value().split())
        if self.sweep_seed_file is not None:
            return " ".join(self.sweep_seed_file.read_text().split())
        return None

    @property
    def underpay_tolerance_units(self) -> int:
        """UNDERPAY_TOLERANCE in micro-USDT."""
        from paywarden.kit.money import parse_usdt

        return parse_usdt(self.underpay_tolerance)

    @property
    def trongrid_base_urls(self) -> list[str]:
        """TRONGRID_URLS, else TRONGRID_URL, else empty (the network preset's URL applies)."""
        urls = [u.strip().rstrip("/") for u in self.trongrid_urls.split(",") if u.strip()]
        return urls or ([self.trongrid_url.rstrip("/")] if self.trongrid_url else [])

    @property
    def webhook_retry_schedule(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.webhook_retry_delays.split(",") if part.strip())

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("issuer_url", "sandbox_callback_url")
    @classmethod
    def _url_no_trailing_slash(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") if value else None

    @property
    def issuer_base_url(self) -> str:
        """ISSUER_URL, else the sandbox embedded in this app."""
        return self.issuer_url or f"{self.public_base_url}/sandbox-issuer"

    @property
    def sandbox_callback_base(self) -> str:
        """Where the sandbox issuer reaches this app: SANDBOX_CALLBACK_URL or PUBLIC_BASE_URL."""
        return self.sandbox_callback_url or self.public_base_url

    def issuer_key(self) -> str | None:
        """ISSUER_API_KEY; in development derived from the signing key (None in production)."""
        if self.issuer_api_key:
            return self.issuer_api_key.get_secret_value().strip()
        return None if self.is_production else self._derived("issuer-api-key")

    def issuer_secrets(self) -> list[str]:
        """ISSUER_WEBHOOK_SECRETS, newest first; in development one derived from the signing key
        (empty in production)."""
        if self.issuer_webhook_secrets:
            raw = self.issuer_webhook_secrets.get_secret_value()
            return [part.strip() for part in raw.split(",") if part.strip()]
        return [] if self.is_production else [self._derived("issuer-webhook-secret")]

    def _derived(self, purpose: str) -> str:
        # Stable across restarts and shared by `serve` and `sandbox-issuer` run from one place.
        mac = hmac.new(self.signing_key().encode(), purpose.encode(), hashlib.sha256)
        return f"dev_{mac.hexdigest()[:40]}"

    @field_validator("report_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                # The value itself holds a password: never echo it.
                raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
        return value

    @model_validator(mode="after")
    def _one_seed_source(self) -> Settings:
        if self.sweep_seed is not None and self.sweep_seed_file is not None:
            raise ValueError("set SWEEP_SEED or SWEEP_SEED_FILE, not both")
        return self

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _encryption_keys_shape(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        from paywarden.kit.crypto import parse_keys

        try:
            parse_keys(value)
        except ValueError as exc:  # the keys themselves stay out of the message
            raise ValueError(f"ENCRYPTION_KEYS: {exc}") from None
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.is_production:
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(key) < 32:
                raise ValueError("SECRET_KEY must be set to at least 32 characters in production")
            if not self.xpub:
                raise ValueError("XPUB must be set in production (the m/44'/195'/0' account xpub)")
        return self

    @model_validator(mode="after")
    def _production_needs_encryption_keys(self) -> Settings:
        # A key derived from SECRET_KEY would tie every encrypted row to that secret's life.
        if self.is_production and self.encryption_keys is None:
            raise ValueError(
                "ENCRYPTION_KEYS must be set in production (Fernet keys, comma-separated; "
                "see .env.example)"
            )
        return self

    @model_validator(mode="after")
    def _production_refuses_development_parts(self) -> Settings:
        # Fail closed at start: the devnet mints USDT for anyone, the sandbox issuer approves
        # anything, and private webhook targets open SSRF into the host's network.
        if not self.is_production:
            return self
        if self.tron_network == "devnet":
            raise ValueError(
                "TRON_NETWORK is devnet (the default) in production: set mainnet, nile or shasta"
            )
        if self.issuer.strip().lower() == "sandbox":
            raise ValueError(
                "ISSUER is sandbox (the default) in production: set a real issuer adapter, "
                "or ISSUER=none to run the gateway alone"
            )
        if self.webhook_allow_private:
            raise ValueError("WEBHOOK_ALLOW_PRIVATE=true is refused in production")
        return self

    @property
    def cards_enabled(self) -> bool:
        """False for ISSUER=none: the gateway alone, no card routes, no issuer loops."""
        return self.issuer.strip().lower() != "none"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def banner_upload_max_bytes(self) -> int:
        """A banner request's whole body: the image plus room for the form around it."""
        return self.banner_max_bytes + BANNER_FORM_SLACK

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)

    def signing_key(self) -> str:
        """SECRET_KEY; in development generated once into `var/secret_key` and kept."""
        if self.secret_key:
            return self.secret_key.get_secret_value()
        return _read_or_create(self.var_dir / "secret_key")

    def bootstrap_token(self) -> str | None:
        """ADMIN_BOOTSTRAP_TOKEN; in development generated into `var/bootstrap_token` if unset."""
        if self.admin_bootstrap_token:
            return self.admin_bootstrap_token.get_secret_value()
        if self.is_production:
            return None
        return _read_or_create(self.var_dir / "bootstrap_token")


def _read_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Create with 0600 so the generated secret is readable by this user only.
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def load_settings(**overrides: object) -> Settings:
    """Settings or a ConfigError with a message an operator can act on."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _one_line(exc: ValidationError) -> str:
    """Each failure as `FIELD: reason` on one line (the CLI prints it to stderr as it is)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc.upper()}: {message}" if loc else message)
    return "; ".join(parts).replace("\n", " ")
