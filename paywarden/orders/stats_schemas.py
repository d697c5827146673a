from __future__ import annotations

from pydantic import BaseModel

from paywarden.addresses.repository import PoolStats


class StatsPeriod(BaseModel):
    order_count: int
    completed_count: int
    total_received: str
    success_rate: str


class StatsTotal(StatsPeriod):
    merchant_count: int


class PoolOut(BaseModel):
    total: int
    free: int
    allocated: int
    cooling: int

    @classmethod
    def of(cls, p: PoolStats) -> PoolOut:
        return cls(total=p.total, free=p.free, allocated=p.allocated, cooling=p.cooling)


class StatsOut(BaseModel):
    today: StatsPeriod
    week: StatsPeriod
    total: StatsTotal
    address_pool: PoolOut


class DailyRevenue(BaseModel):
    date: str
    total_received: str
