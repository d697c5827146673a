from __future__ import annotations

from pydantic import BaseModel

from paywarden.addresses.schemas import PoolOut


class StatsPeriod(BaseModel):
    order_count: int
    completed_count: int
    total_received: str
    success_rate: str


class StatsTotal(StatsPeriod):
    merchant_count: int


class StatsOut(BaseModel):
    today: StatsPeriod
    week: StatsPeriod
    total: StatsTotal
    address_pool: PoolOut


class DailyRevenue(BaseModel):
    date: str
    total_received: str
