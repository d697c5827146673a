"""Rate limits on a moving window; in memory by default, in Redis when REDIS_URL is set.

Redis goes through `limits.aio` so a check never blocks the event loop, and replicas share counts.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from paywarden.kit.errors import RateLimited


def make_storage(redis_url: str | None, prefix: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    return RedisStorage(uri, key_prefix=prefix)


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, rule: str | RateLimitItem, *keys: str) -> None:
        """Raise RateLimited (with Retry-After) when the next hit would exceed the rule."""
        item = parse(rule) if isinstance(rule, str) else rule
        if not await self._limiter.test(item, *keys):
            raise RateLimited(headers={"Retry-After": str(await self.retry_after(item, *keys))})

    async def hit(self, rule: str | RateLimitItem, *keys: str) -> bool:
        item = parse(rule) if isinstance(rule, str) else rule
        return await self._limiter.hit(item, *keys)

    async def retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = await self._limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        await self.storage.reset()

    def close(self) -> None:
        """Close Redis connections (limits exposes no close; its coredis client has a pool)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
