"""The benchmarks' operator: an operator row with TOTP on (its secret encrypted under the
server's key, as at rest), signed in over the admin API, and GETs timed one after another."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import pyotp
from order_create import BENCH_KEYS
from sqlalchemy.pool import NullPool

from paywarden.kit.db import Database
from paywarden.kit.security import hash_password
from paywarden.models import Operator


@dataclass(frozen=True)
class BenchOperator:
    email: str
    role: str = "operator"
    password: str = "benchmark passphrase"
    secret: str = field(default_factory=pyotp.random_base32)

    def row(self) -> Operator:
        return Operator(
            email=self.email,
            password_hash=hash_password(self.password),
            role=self.role,
            totp_secret=BENCH_KEYS.encrypt(self.secret),
            totp_enabled=True,
        )

    async def create(self, url: str) -> None:
        db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
        try:
            async with db.transaction() as session:
                session.add(self.row())
        finally:
            await db.dispose()

    async def sign_in(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/admin/auth/login",
            json={
                "email": self.email,
                "password": self.password,
                "totp_code": pyotp.TOTP(self.secret).now(),
            },
        )
        assert response.status_code == 200, response.text
        assert "admin_token" in client.cookies


async def time_gets(
    client: httpx.AsyncClient, path: str, requests: int, warmup: int
) -> list[float]:
    """Seconds per GET, after `warmup` untimed ones; every answer must be a 200."""
    for _ in range(warmup):
        response = await client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return timings
