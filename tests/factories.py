"""Small builders for test data, written through the same models the app uses."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pyotp

from paywarden.kit.crypto import keys_of
from paywarden.kit.db import Database
from paywarden.kit.security import hash_password
from paywarden.models import Merchant, Operator

PASSWORD = "correct horse battery staple"


@dataclass
class TestOperator:
    __test__ = False  # not a test class

    operator: Operator
    password: str
    secret: str | None

    @property
    def email(self) -> str:
        return self.operator.email

    def code(self, offset_steps: int = 0) -> str:
        """A TOTP code for the current step (or one `offset_steps` away)."""
        assert self.secret
        return pyotp.TOTP(self.secret).at(time.time() + 30 * offset_steps)


async def create_operator(
    db: Database,
    email: str = "ops@example.com",
    *,
    role: str = "operator",
    primary: bool = False,
    with_totp: bool = True,
    password: str = PASSWORD,
) -> TestOperator:
    secret = pyotp.random_base32() if with_totp else None
    async with db.transaction() as session:
        operator = Operator(
            email=email,
            password_hash=hash_password(password),
            role=role,
            is_primary=primary,
            totp_secret=keys_of(session).encrypt(secret) if secret else None,
            totp_enabled=with_totp,
        )
        session.add(operator)
    return TestOperator(operator, password, secret)


async def sign_in(client: httpx.AsyncClient, op: TestOperator, step: int = 0) -> httpx.Response:
    """Sign `client` in as `op` with a real TOTP code; the cookie stays in the client's jar."""
    response = await client.post(
        "/api/v1/admin/auth/login",
        json={"email": op.email, "password": op.password, "totp_code": op.code(step)},
    )
    assert response.status_code == 200, response.text
    return response


@dataclass
class TestMerchant:
    __test__ = False

    merchant: Merchant
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


async def create_merchant(
    db: Database,
    name: str = "My Shop",
    *,
    webhook_secret: str = "whsec-test-secret",
    webhook_url: str | None = "https://shop.example.com/hooks",
    is_active: bool = True,
) -> TestMerchant:
    from paywarden.audit.context import CLI
    from paywarden.merchants import service

    async with db.transaction() as session:
        made = await service.create(
            session, name=name, webhook_secret=webhook_secret, webhook_url=webhook_url, actor=CLI
        )
        made.merchant.is_active = is_active
    return TestMerchant(made.merchant, made.api_key)


async def create_payment(
    client: httpx.AsyncClient,
    merchant: TestMerchant,
    external_id: str = "order-1",
    amount: str = "12.5",
    **extra: object,
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/payments",
        json={"external_id": external_id, "amount": amount, **extra},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()
