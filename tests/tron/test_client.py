"""The TronGrid client's failover and backoff, against small fakes served over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from paywarden.tron.client import API_KEY_HEADER, TronGridClient, TronGridError
from tests.servers import free_socket, serve
from tests.tron.conftest import Devnet

BLOCK = {
    "blockID": "000000000000002a" + "ab" * 24,
    "block_header": {"raw_data": {"number": 42, "timestamp": 1_700_000_000_000}},
}


class Flaky:
    """A fake TronGrid answering `failures` (status, headers) first, then a block."""

    def __init__(self, failures: list[tuple[int, dict[str, str]]]) -> None:
        self.failures = list(failures)
        self.requests: list[Request] = []
        self.app = FastAPI()

        @self.app.post("/wallet/getnowblock")
        async def now_block(request: Request) -> JSONResponse:
            self.requests.append(request)
            if self.failures:
                status, headers = self.failures.pop(0)
                return JSONResponse({"error": "busy"}, status, headers=headers)
            return JSONResponse(BLOCK)

        @self.app.post("/wallet/getblockbynum")
        async def refuse(request: Request) -> JSONResponse:
            self.requests.append(request)
            return JSONResponse({"Error": "class java.lang.NumberFormatException : bad num"})

        @self.app.get("/v1/accounts/{address}")
        async def bad_request(request: Request) -> JSONResponse:
            self.requests.append(request)
            return JSONResponse({"success": False, "error": "bad address", "statusCode": 400}, 400)


async def serving(flaky: Flaky) -> AsyncIterator[str]:
    async for url in serve(flaky.app, lifespan="off"):
        yield url


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A port bound but never listening for the whole test: connections are refused, and no
    other process can take the port meanwhile."""
    sock = free_socket()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


async def test_failover_from_a_dead_url_to_the_devnet(devnet: Devnet, dead_url: str) -> None:
    async with TronGridClient([dead_url, devnet.url], max_rounds=1) as client:
        block = await client.now_block()
        assert block.number == 0
        # The dead URL now cools down: the next call goes straight to the live one.
        assert client._order()[0] == 1
        await devnet.mine()
        assert (await client.now_block()).number == 1


async def test_backoff_retries_429_and_503_then_succeeds() -> None:
    flaky = Flaky([(429, {"Retry-After": "0"}), (503, {})])
    async for url in serving(flaky):
        async with TronGridClient(url, api_key="k-123", backoff_base=0.01) as client:
            block = await client.now_block()
    assert block.number == 42
    assert len(flaky.requests) == 3
    assert all(r.headers[API_KEY_HEADER] == "k-123" for r in flaky.requests)


async def test_bounded_attempts_end_in_an_error() -> None:
    flaky = Flaky([(503, {})] * 10)
    async for url in serving(flaky):
        async with TronGridClient(url, max_rounds=3, backoff_base=0.01) as client:
            with pytest.raises(TronGridError) as caught:
                await client.now_block()
    assert caught.value.status == 503
    assert caught.value.body == {"error": "busy"}
    assert len(flaky.requests) == 3


async def test_a_5xx_fails_over_to_the_next_url_at_once() -> None:
    down, up = Flaky([(502, {})] * 10), Flaky([])
    async for down_url in serving(down):
        async for up_url in serving(up):
            async with TronGridClient([down_url, up_url], max_rounds=1) as client:
                assert (await client.now_block()).number == 42
    assert len(down.requests) == 1
    assert len(up.requests) == 1


async def test_refusals_are_not_retried() -> None:
    flaky = Flaky([])
    async for url in serving(flaky):
        async with TronGridClient(url, backoff_base=0.01) as client:
            with pytest.raises(TronGridError) as java:
                await client.block_by_num(-1)
            with pytest.raises(TronGridError) as v1:
                await client.account("T-not-an-address")
    assert "NumberFormatException" in java.value.message
    assert java.value.status == 200
    assert v1.value.status == 400
    assert v1.value.message == "bad address"
    assert len(flaky.requests) == 2


async def test_no_url_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TronGridClient([])
