"""The sandbox issuer's adapter: its HTTP API, its signatures, its JSON and its codes.

The sandbox (paywarden/issuer/sandbox_service) plays a real issuer: amounts are decimal strings,
card states are upper-case words, declines carry ISO 8583-style response codes and webhook types
are its own names. Everything below translates those to the normalized types of `base`; nothing
else in the project reads the sandbox's field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from paywarden.config import ConfigError, Settings
from paywarden.issuer import signing
from paywarden.issuer.base import (
    AuthorizationRequest,
    CardDetails,
    CardStatus,
    Decision,
    DeclineReason,
    EventKind,
    Health,
    IssuedCard,
    IssuerError,
    IssuerEventData,
    ProfileCheck,
)
from paywarden.kit import tls
from paywarden.kit.money import parse_amount

NAME = "sandbox"
TIMEOUT_SECONDS = 10.0

# The sandbox's response codes (ISO 8583 field 39 style) and what they mean to us.
APPROVED_CODE = "00"
DECLINE_CODES: dict[str, DeclineReason] = {
    "05": "do_not_honor",
    "14": "card_inactive",  # no such card / closed at the issuer
    "1A": "3ds_failed",  # strong customer authentication failed
    "51": "insufficient_funds",
    "54": "card_inactive",  # expired card
    "57": "other",  # transaction not permitted to cardholder
    "59": "suspected_fraud",
    "61": "spending_limit",  # exceeds amount limit
    "62": "card_inactive",  # restricted (frozen) card
    "63": "suspected_fraud",  # security violation
    "65": "spending_limit",  # exceeds frequency limit
    "91": "other",  # issuer or switch inoperative
    "N7": "do_not_honor",  # CVV2 mismatch
}
# The code we answer with for each decline reason.
REASON_CODES: dict[DeclineReason, str] = {
    "insufficient_funds": "51",
    "do_not_honor": "05",
    "3ds_failed": "1A",
    "card_inactive": "62",
    "spending_limit": "61",
    "suspected_fraud": "59",
    "other": "57",
}
CARD_STATUSES: dict[str, CardStatus] = {"ACTIVE": "active", "FROZEN": "frozen", "CLOSED": "closed"}
EVENT_KINDS: dict[str, EventKind] = {
    "transaction.cleared": "transaction.settled",
    "authorization.reversed": "transaction.reversed",
    "authorization.expired": "transaction.expired",
    "transaction.refunded": "transaction.refunded",
    "authorization.declined": "transaction.declined",
    "authentication.otp": "3ds.code",
    "card.status_changed": "card.updated",
}
MAX_CENTS = 10**14 - 1  # 12 whole digits
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def decline_reason(code: str | None) -> DeclineReason:
    """A raw response code as a normalized decline reason (unknown codes: `other`)."""
    return DECLINE_CODES.get(code or "", "other")


def to_cents(value: object, what: str = "amount") -> int:
    """The sandbox's decimal string ("30.00") as cents, by kit.money's one parser (ASCII
    digits, at most 2 decimals, 12 whole digits); ValueError when not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a JSON integer is whole units
    return parse_amount(value, 2, max_units=MAX_CENTS, what=what)


def from_cents(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return f"{whole}.{frac:02d}"


def _text(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _currency(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    assert value is not None
    if not _CURRENCY.match(value):
        raise ValueError(f"{key} must be a 3-letter currency code")
    return value


def _time(data: Mapping[str, Any], key: str, *, required: bool = True) -> datetime | None:
    value = _text(data, key, required=required)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{key} must be an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{key} must carry a UTC offset")
    return parsed


def _merchant(data: Mapping[str, Any]) -> Mapping[str, Any]:
    merchant = data.get("merchant") or {}
    if not isinstance(merchant, Mapping):
        raise ValueError("merchant must be an object")
    return merchant


class SandboxAdapter:
    """`IssuerAdapter` for the sandbox issuer, over HTTP with an API key."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        api_key: str,
        webhook_secrets: list[str],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._secrets = list(webhook_secrets)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
            verify=tls.client_context(),
        )

    def __repr__(self) -> str:  # no key, no secret
        return f"SandboxAdapter(base_url={str(self._http.base_url)!r})"

    # --- calls to the issuer ------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise IssuerError(f"issuer timed out on {method} {path}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise IssuerError(f"issuer unreachable: {type(exc).__name__}", retryable=True) from exc
        if response.status_code >= 400:
            raise _error(response, f"{method} {path}")
        try:
            body = response.json()
        except ValueError as exc:
            raise IssuerError("issuer answered with malformed JSON", retryable=True) from exc
        if not isinstance(body, dict):
            raise IssuerError("issuer answered with an unexpected body", retryable=True)
        return body

    async def create_card(
        self, *, currency: str, monthly_limit: int, label: str | None, reference: str
    ) -> IssuedCard:
        body = await self._call(
            "POST",
            "/v1/cards",
            json={
                "reference": reference,
                "currency": currency,
                "monthly_limit": from_cents(monthly_limit),
                "label": label,
            },
        )
        return _issued(body)

    async def freeze(self, issuer_card_id: str) -> None:
        await self._call("POST", f"/v1/cards/{issuer_card_id}/freeze")

    async def unfreeze(self, issuer_card_id: str) -> None:
        await self._call("POST", f"/v1/cards/{issuer_card_id}/unfreeze")

    async def close(self, issuer_card_id: str) -> None:
        await self._call("POST", f"/v1/cards/{issuer_card_id}/close")

    async def set_limit(self, issuer_card_id: str, monthly_limit: int) -> None:
        await self._call(
            "PATCH",
            f"/v1/cards/{issuer_card_id}",
            json={"monthly_limit": from_cents(monthly_limit)},
        )

    async def card_details(self, issuer_card_id: str) -> CardDetails:
        body = await self._call("GET", f"/v1/cards/{issuer_card_id}/sensitive")
        try:
            return CardDetails(
                pan=str(body["pan"]),
                expiry=f"{int(body['exp_month']):02d}/{int(body['exp_year']) % 100:02d}",
                cvv=str(body["cvv"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            # The body holds card data: the message must not echo it.
            raise IssuerError("issuer sent malformed card details") from exc

    async def balances(self) -> dict[str, int]:
        body = await self._call("GET", "/v1/balances")
        try:
            return {row["currency"]: to_cents(row["available"]) for row in body["data"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise IssuerError("issuer sent malformed balances") from exc

    async def validate_profile(self, profile: Mapping[str, object]) -> ProfileCheck:
        client_id = _secret_text(profile.get("client_id", profile.get("clientId")))
        client_secret = _secret_text(profile.get("client_secret", profile.get("clientSecret")))
        if not client_id or not client_secret:
            return ProfileCheck(False, None, "client_id and client_secret are required")
        try:
            request = self._http.build_request(
                "POST",
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": client_secret,
                },
            )
            del request.headers["Authorization"]  # the profile's own credentials, not our key
            response = await self._http.send(request)
        except httpx.TimeoutException as exc:
            raise IssuerError("issuer timed out on the token call", retryable=True) from exc
        except httpx.TransportError as exc:
            raise IssuerError(f"issuer unreachable: {type(exc).__name__}", retryable=True) from exc
        if response.status_code >= 500:
            raise _error(response, "POST /oauth/token")
        body = _json_or_empty(response)
        if response.status_code >= 400:
            described = body.get("error_description") or body.get("error") or "refused"
            return ProfileCheck(False, None, f"token refused by the issuer: {described}")
        if not body.get("access_token"):
            return ProfileCheck(False, None, "the issuer returned no token")
        account = body.get("account_id")
        return ProfileCheck(True, str(account) if account else client_id)

    async def health(self) -> Health:
        try:
            body = await self._call("GET", "/v1/health")
        except IssuerError as exc:
            return Health(False, str(exc))
        status = str(body.get("status", "unknown"))
        return Health(status == "ok", f"sandbox issuer: {status}")

    # --- calls from the issuer ----------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> None:
        signing.verify(headers, raw_body, now, self._secrets)

    def parse_authorization(self, payload: Mapping[str, object]) -> AuthorizationRequest:
        data: Mapping[str, Any] = payload
        merchant = _merchant(data)
        three_ds = data.get("three_ds_authenticated")
        if three_ds is not None and not isinstance(three_ds, bool):
            raise ValueError("three_ds_authenticated must be a boolean")
        occurred = _time(data, "created_at")
        assert occurred is not None
        return AuthorizationRequest(
            issuer_transaction_id=_text(data, "transaction_id") or "",
            issuer_card_id=_text(data, "card_id") or "",
            amount=to_cents(data.get("billing_amount"), "billing_amount"),
            currency=_currency(data, "billing_currency"),
            merchant_amount=to_cents(data.get("transaction_amount"), "transaction_amount"),
            merchant_currency=_currency(data, "transaction_currency"),
            merchant=_text(merchant, "name", required=False),
            mcc=_text(merchant, "mcc", required=False),
            country=_text(merchant, "country", required=False),
            three_ds=three_ds,
            occurred_at=occurred,
        )

    def authorization_answer(self, decision: Decision) -> dict[str, object]:
        if decision.approved:
            return {"approved": True, "response_code": APPROVED_CODE}
        return {
            "approved": False,
            "response_code": REASON_CODES[decision.decline_reason or "other"],
        }

    def parse_event(self, payload: Mapping[str, object]) -> IssuerEventData:
        event: Mapping[str, Any] = payload
        event_id = _text(event, "id") or ""
        raw_type = _text(event, "type") or ""
        data = event.get("data") or {}
        if not isinstance(data, Mapping):
            raise ValueError("data must be an object")
        kind: EventKind = EVENT_KINDS.get(raw_type, "other")
        occurred = _time(event, "created_at", required=False)
        if kind == "other":
            return IssuerEventData(event_id, kind, raw_type, occurred, extra=dict(data))
        card_id = _text(data, "card_id")
        if kind == "card.updated":
            status = CARD_STATUSES.get(str(data.get("status")))
            if status is None:
                raise ValueError("status must be ACTIVE, FROZEN or CLOSED")
            return IssuerEventData(
                event_id, kind, raw_type, occurred, issuer_card_id=card_id, card_status=status
            )
        merchant = _merchant(data)
        raw_code = _text(data, "response_code", required=False)
        common: dict[str, Any] = {
            "issuer_transaction_id": _text(data, "transaction_id"),
            "issuer_card_id": card_id,
            "amount": to_cents(data.get("amount")),
            "currency": _currency(data, "currency"),
            "merchant": _text(merchant, "name", required=False),
            "mcc": _text(merchant, "mcc", required=False),
            "country": _text(merchant, "country", required=False),
            "raw_code": raw_code,
        }
        if data.get("transaction_amount") is not None:
            common["merchant_amount"] = to_cents(data["transaction_amount"], "transaction_amount")
            common["merchant_currency"] = _currency(data, "transaction_currency")
        if kind == "transaction.declined":
            common["decline_reason"] = decline_reason(raw_code)
        if kind == "3ds.code":
            code = _text(data, "otp")
            assert code is not None
            if not code.isdigit():
                raise ValueError("otp must be digits")
            common["code"] = code
            common["code_expires_at"] = _time(data, "expires_at")
        if kind == "transaction.refunded" and data.get("refund_id"):
            common["extra"] = {"refund_id": str(data["refund_id"])}
        return IssuerEventData(event_id, kind, raw_type, occurred, **common)

    async def aclose(self) -> None:
        await self._http.aclose()


def _issued(body: Mapping[str, Any]) -> IssuedCard:
    status = CARD_STATUSES.get(str(body.get("status")))
    card_id, last4 = body.get("id"), body.get("last4")
    if status is None or not isinstance(card_id, str) or not isinstance(last4, str):
        raise IssuerError("issuer sent a malformed card")
    return IssuedCard(issuer_card_id=card_id, last4=last4, status=status)


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response, what: str) -> IssuerError:
    body = _json_or_empty(response)
    code = body.get("code")
    message = body.get("error") if isinstance(body.get("error"), str) else None
    return IssuerError(
        f"issuer refused {what}: HTTP {response.status_code}"
        + (f" ({message})" if message else ""),
        retryable=response.status_code >= 500 or response.status_code == 429,
        raw_code=str(code) if code else None,
    )


def _secret_text(value: object) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    text = reveal() if callable(reveal) else value
    return text.strip() if isinstance(text, str) and text.strip() else None


def build(settings: Settings) -> SandboxAdapter:
    """The registry's entry point (ISSUER=sandbox)."""
    key, secrets = settings.issuer_key(), settings.issuer_secrets()
    if not key or not secrets:  # only production leaves them unset (development derives them)
        raise ConfigError("ISSUER_API_KEY and ISSUER_WEBHOOK_SECRETS must be set in production")
    return SandboxAdapter(settings.issuer_base_url, key, secrets)
