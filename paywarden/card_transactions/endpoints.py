"""The issuer's inbound routes (`/api/v1/issuer/<provider>/authorize|webhooks`) and the client's
3-D Secure codes (`GET /api/botcartd/3ds`).

The issuer's requests are verified on the raw body by the adapter the app runs
(`app.state.issuer`); a provider other than its name is 404, a bad signature 401
`INVALID_SIGNATURE`, a body the adapter cannot parse 400 `INVALID_BODY`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paywarden.card_transactions import codes, inbox, service
from paywarden.card_transactions.errors import BadSignature, MalformedIssuerRequest, UnknownIssuer
from paywarden.card_transactions.schemas import Code3dsOut, CodesOut
from paywarden.clients.auth import CurrentClient
from paywarden.issuer.base import InvalidSignature, IssuerAdapter
from paywarden.issuer.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from paywarden.kit.openapi import ERROR_REF, error_response
from paywarden.kit.time import utcnow
from paywarden.kit.web import DbRoute, Session

router = APIRouter(
    prefix="/api/v1/issuer",
    route_class=DbRoute,
    tags=["issuer (inbound)"],
    responses={
        400: error_response(400),
        401: {
            "description": "INVALID_SIGNATURE: a missing, malformed, wrong or stale signature",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        404: error_response(404),
    },
)
client_router = APIRouter(prefix="/api/botcartd", route_class=DbRoute, tags=["client API"])

# The signed request as the document shows it (the routes read the raw body and headers
# themselves, to verify before parsing): the headers are listed so clients and the fuzzer
# (tests/card_transactions/test_issuer_fuzz.py) see them.
SIGNED_REQUEST: dict[str, Any] = {
    "parameters": [
        {
            "name": TIMESTAMP_HEADER,
            "in": "header",
            "required": True,
            "description": "Unix seconds when signed: 1-12 ASCII digits, within 5 minutes",
            "schema": {"type": "string"},
        },
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "`v1=<64 hex digits: HMAC-SHA256 of '{timestamp}.{raw body}'>`, "
            "comma-separated entries (at most 8) during a secret rotation",
            "schema": {"type": "string"},
        },
    ],
    "requestBody": {
        "required": True,
        "description": "The issuer's own JSON object (the adapter's format)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


def _adapter(request: Request, provider: str) -> IssuerAdapter:
    adapter: IssuerAdapter | None = getattr(request.app.state, "issuer", None)
    if adapter is None or adapter.name != provider:
        raise UnknownIssuer()
    return adapter


async def _verified(request: Request, adapter: IssuerAdapter) -> tuple[bytes, dict[str, Any]]:
    """The raw body, checked against its signature before anything reads it, and its JSON."""
    raw = await request.body()
    try:
        adapter.verify(request.headers, raw, utcnow())
    except InvalidSignature as exc:
        raise BadSignature() from exc
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise MalformedIssuerRequest("The body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedIssuerRequest("The body is not a JSON object")
    return raw, payload


@router.post("/{provider}/authorize", openapi_extra=SIGNED_REQUEST)
async def authorize(provider: str, request: Request, db: Session) -> JSONResponse:
    """Approve or decline a purchase now; the answer's shape is the issuer's (the adapter's).
    The decision, its card_transactions row and its hold commit together."""
    adapter = _adapter(request, provider)
    _, payload = await _verified(request, adapter)
    try:
        req = adapter.parse_authorization(payload)
    except ValueError as exc:
        raise MalformedIssuerRequest(f"Malformed authorization request: {exc}") from exc
    decision = await service.authorize(db, adapter.name, req, utcnow())
    return JSONResponse(adapter.authorization_answer(decision))


@router.post("/{provider}/webhooks", openapi_extra=SIGNED_REQUEST)
async def webhook(provider: str, request: Request, db: Session) -> dict[str, Any]:
    """Store the event (a repeated event id: 200, nothing done) and handle it; a handler's
    failure is recorded on the stored event (retried by the worker, listed for operators) and
    still answers 200: the event is ours now."""
    adapter = _adapter(request, provider)
    raw, payload = await _verified(request, adapter)
    try:
        event = adapter.parse_event(payload)
    except ValueError as exc:
        raise MalformedIssuerRequest(f"Malformed event: {exc}") from exc
    now = utcnow()
    row, new = await inbox.receive(db, adapter.name, raw, event, now)
    status = await inbox.attempt(db, row, now) if new else row.status
    return {"received": True, "duplicate": not new, "id": str(row.id), "status": status}


@client_router.get("/3ds", response_model=CodesOut)
async def client_codes(caller: CurrentClient, db: Session) -> CodesOut:
    """The caller's 3-D Secure codes of the last day, newest first: type the code where the
    merchant's page asks for it."""
    rows = await codes.for_client(db, caller.client.id, utcnow())
    return CodesOut(data=[Code3dsOut.of(c) for c in rows])
