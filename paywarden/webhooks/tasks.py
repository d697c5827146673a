"""The webhook dispatcher: claim due deliveries, POST them concurrently, record the outcomes.

Claims commit before anything is sent (status `delivering`), so a second worker never sends the
same delivery; a worker killed mid-send leaves a `delivering` row that the next pass puts back
after a minute: delivery is at least once, and receivers deduplicate by `webhook-id`.

One pass (what the worker loop runs each second) takes batches of BATCH while each comes back
full, for up to PASS_SECONDS: a backlog drains at the speed of sending, not at one batch a
second. The pass sends through CONCURRENCY lanes, each an HTTP client sending one request at a
time and keeping its connections alive across the pass's batches (one client per lane rather
than one client for all: httpcore's pool does per-request bookkeeping over every connection it
holds, which at 20 connections costs more CPU than the request itself).

A batch's outcomes are recorded in one transaction; should that fail, each is recorded in its
own, so one bad outcome never keeps the others from being recorded (one that still fails stays
`delivering` and is sent again once its claim is stale).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from paywarden.kit import tls
from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.netguard import UnsafeUrl, check_shape, guarded_transport
from paywarden.kit.time import utcnow
from paywarden.webhooks import service
from paywarden.webhooks.service import EXCERPT_BYTES, Job, Result, WebhookPolicy
from paywarden.webhooks.signing import headers

log = get_logger(__name__)

TIMEOUT_SECONDS = 10.0
CONCURRENCY = 20  # lanes: requests in flight at once
LANE_HOSTS = 4  # connections a lane keeps to different receivers (it sends one at a time)
BATCH = 100
# A pass stops claiming further batches after this long, so the worker loop stays responsive.
PASS_SECONDS = 5.0
USER_AGENT = "PayWarden-Webhooks/1"


async def dispatch_due(
    db: Database,
    policy: WebhookPolicy,
    *,
    limit: int = BATCH,
    transport: httpx.AsyncBaseTransport | None = None,
    pass_seconds: float = PASS_SECONDS,
) -> int:
    """One pass: returns how many deliveries were attempted."""
    deadline = time.monotonic() + pass_seconds
    attempted = 0
    async with contextlib.AsyncExitStack() as stack:
        lanes: list[httpx.AsyncClient] = []
        while True:
            async with db.transaction() as session:
                jobs = await service.claim_due(session, limit=limit)
            if not jobs:
                break
            if not lanes:
                lanes = [
                    await stack.enter_async_context(lane_client(transport, policy))
                    for _ in range(CONCURRENCY)
                ]
            results = await send_all(lanes, jobs, policy)
            await record(db, list(zip(jobs, results, strict=True)), policy)
            attempted += len(jobs)
            if len(jobs) < limit or time.monotonic() >= deadline:
                break
    return attempted


def lane_client(
    transport: httpx.AsyncBaseTransport | None, policy: WebhookPolicy
) -> httpx.AsyncClient:
    """A lane's client. Its connections go through the SSRF guard (kit/netguard.py): each
    resolves the host once, checks every address (production) and connects to a checked one,
    so a DNS answer that changes between check and connect (rebinding) cannot lead it
    elsewhere; TLS still names and verifies the URL's host. A `transport` given (tests)
    replaces it, and with it the check of resolved addresses."""
    if transport is None:
        limits = httpx.Limits(max_connections=LANE_HOSTS, max_keepalive_connections=LANE_HOSTS)
        transport = guarded_transport(
            enforce=policy.refuse_private,
            resolver=policy.resolver,
            verify=tls.client_context(),
            limits=limits,
        )
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        transport=transport,
        headers={"user-agent": USER_AGENT},
    )


async def send_all(
    lanes: list[httpx.AsyncClient], jobs: list[Job], policy: WebhookPolicy
) -> list[Result]:
    """Each job's outcome, in order: each lane takes the next job when it is done with one."""
    results: list[Result | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))

    async def lane(client: httpx.AsyncClient) -> None:
        for i, job in queue:
            results[i] = await send(client, job, policy)

    await asyncio.gather(*(lane(client) for client in lanes[: len(jobs)]))
    return [r for r in results if r is not None]


async def record(db: Database, outcomes: list[tuple[Job, Result]], policy: WebhookPolicy) -> None:
    """Record a batch's outcomes in one transaction, else each in its own."""
    try:
        async with db.transaction() as session:
            statuses = await service.record_attempts(session, outcomes, policy)
    except Exception:
        log.warning("webhook_record_batch_failed", size=len(outcomes), exc_info=True)
        for job, result in outcomes:
            await record_one(db, job, result, policy)
        return
    for (job, result), status in zip(outcomes, statuses, strict=True):
        _logged(job, result, status)


async def record_one(db: Database, job: Job, result: Result, policy: WebhookPolicy) -> None:
    try:
        async with db.transaction() as session:
            status = await service.record_attempt(session, job, result, policy)
    except Exception:
        # Left `delivering`: the stale-claim rule sends it again in a minute.
        log.exception("webhook_record_failed", delivery_id=str(job.delivery_id))
        return
    _logged(job, result, status)


def _logged(job: Job, result: Result, status: str) -> None:
    log.info(
        "webhook_attempt",
        delivery_id=str(job.delivery_id),
        attempt=job.attempt,
        http_status=result.http_status,
        status=status,
    )


async def send(client: httpx.AsyncClient, job: Job, policy: WebhookPolicy) -> Result:
    started = utcnow()
    t0 = time.perf_counter()

    def done(**kw: Any) -> Result:
        return Result(started, int((time.perf_counter() - t0) * 1000), **kw)

    try:
        if policy.refuse_private:
            # Scheme, credentials, host syntax, address literals; the lane's transport checks
            # what the name resolves to when it connects.
            check_shape(job.url, allow_http=policy.allow_http)
        sent = headers(job.secret, str(job.event_id), int(time.time()), job.body)
        async with client.stream("POST", job.url, content=job.body, headers=sent) as response:
            excerpt = b""
            async for chunk in response.aiter_raw():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
        text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        return done(http_status=response.status_code, response_excerpt=text)
    except UnsafeUrl as exc:
        return done(error=f"refused: {exc}")
    except httpx.TimeoutException:
        return done(error=f"timeout after {TIMEOUT_SECONDS:g}s")
    except httpx.HTTPError as exc:
        return done(error=f"{type(exc).__name__}: {exc}"[:500])
