"""Reading the chain for the reconciliation: the blocks of the window, through the scanner's
own per-block read (`chain.service.block_transfers`), a few at once, chunk by chunk.

Why blocks and not each address's history: the devnet serves the scanner's calls
(`gettransactioninfobyblocknum`, the block calls), not `/v1/accounts/{address}/transactions/
trc20`; and blocks cost one call each however many addresses we hold (on mainnet a day is
28,800 blocks: give `--since`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from paywarden.chain.service import Transfer, block_transfers
from paywarden.tron.client import TronGridClient

CHUNK = 20  # blocks compared with the database at a time: memory follows their transfers
PARALLEL = 8  # block reads in flight


async def block_at(client: TronGridClient, timestamp_ms: int, high: int) -> int:
    """The first block at or after `timestamp_ms` (binary search; `high` + 1 if none)."""
    low, found = 0, high + 1
    while low <= high:
        mid = (low + high) // 2
        block = await client.block_by_num(mid)
        if block is not None and block.timestamp >= timestamp_ms:
            found, high = mid, mid - 1
        else:
            low = mid + 1
    return found


async def chunks(
    client: TronGridClient, contract: str, low: int, high: int
) -> AsyncIterator[tuple[int, int, list[Transfer]]]:
    """(first, last, every USDT transfer of blocks first..last) for low..high, in order."""
    gate = asyncio.Semaphore(PARALLEL)

    async def read(number: int) -> list[Transfer]:
        async with gate:
            return await block_transfers(client, contract, number)

    for first in range(low, high + 1, CHUNK):
        last = min(high, first + CHUNK - 1)
        blocks = await asyncio.gather(*(read(n) for n in range(first, last + 1)))
        yield first, last, [t for block in blocks for t in block]
