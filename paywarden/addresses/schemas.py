"""The deposit-address pool as the admin API and the console show it."""

from __future__ import annotations

from pydantic import BaseModel

from paywarden.addresses.repository import PoolStats


class PoolOut(BaseModel):
    total: int
    free: int
    allocated: int
    cooling: int

    @classmethod
    def of(cls, p: PoolStats) -> PoolOut:
        return cls(total=p.total, free=p.free, allocated=p.allocated, cooling=p.cooling)
