"""The webhook dispatcher: claim due deliveries, POST them concurrently, record each outcome.

Claims commit before anything is sent (status `delivering`), so a second worker never sends the
same delivery; a worker killed mid-send leaves a `delivering` row that the next pass puts back
after a minute: delivery is at least once, and receivers deduplicate by `webhook-id`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any

import httpx

from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.webhooks import service
from paywarden.webhooks.service import EXCERPT_BYTES, Job, Result, WebhookPolicy
from paywarden.webhooks.signing import headers

log = get_logger(__name__)

TIMEOUT_SECONDS = 10.0
CONCURRENCY = 20
BATCH = 100
USER_AGENT = "PayWarden-Webhooks/1"


class UnsafeUrl(Exception):
    """The URL's host is, or resolves to, an address webhooks must not reach."""


async def dispatch_due(
    db: Database,
    policy: WebhookPolicy,
    base_url: str,
    *,
    limit: int = BATCH,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """One pass: returns how many deliveries were attempted."""
    async with db.transaction() as session:
        jobs = await service.claim_due(session, limit=limit)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        transport=transport,
        headers={"user-agent": USER_AGENT},
    ) as client:

        async def one(job: Job) -> None:
            async with gate:
                result = await send(client, job, policy)
            try:
                async with db.transaction() as session:
                    status = await service.record_attempt(
                        session, job, result, policy, base_url=base_url
                    )
                log.info(
                    "webhook_attempt",
                    delivery_id=str(job.delivery_id),
                    attempt=job.attempt,
                    http_status=result.http_status,
                    status=status,
                )
            except Exception:
                # Left `delivering`: the stale-claim rule sends it again in a minute.
                log.exception("webhook_record_failed", delivery_id=str(job.delivery_id))

        await asyncio.gather(*(one(job) for job in jobs))
    return len(jobs)


async def send(client: httpx.AsyncClient, job: Job, policy: WebhookPolicy) -> Result:
    started = utcnow()
    t0 = time.perf_counter()

    def done(**kw: Any) -> Result:
        return Result(started, int((time.perf_counter() - t0) * 1000), **kw)

    try:
        if policy.refuse_private:
            await guard(job.url)
        stamp = int(time.time())
        sent = headers(job.secret, str(job.event_id), stamp, job.body)
        async with client.stream("POST", job.url, content=job.body, headers=sent) as response:
            excerpt = b""
            async for chunk in response.aiter_raw():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
        text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        return done(http_status=response.status_code, response_excerpt=text)
    except UnsafeUrl as exc:
        return done(error=str(exc))
    except httpx.TimeoutException:
        return done(error=f"timeout after {TIMEOUT_SECONDS:g}s")
    except httpx.HTTPError as exc:
        return done(error=f"{type(exc).__name__}: {exc}"[:500])


def _unsafe(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def guard(url: str) -> None:
    """Refuse a URL whose host is or resolves to a private, loopback, link-local or reserved
    address (SSRF). Checked at send time; httpx resolves again, so this is a guard against
    misconfiguration and casual probing, not against a hostile DNS server (rebinding)."""
    parsed = httpx.URL(url)
    host = parsed.host
    if not host:
        raise UnsafeUrl("URL has no host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeUrl(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        if _unsafe(ip):
            raise UnsafeUrl(f"refused: {host} resolves to non-public address {ip}")
