"""The seed's page/limit paging and its `pagination` object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from paywarden.kit.casing import RequestModel


class PageQuery(RequestModel):
    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    total_pages: int


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    limit: int
    total: int

    def pagination(self) -> Pagination:
        pages = (self.total + self.limit - 1) // self.limit
        return Pagination(page=self.page, limit=self.limit, total=self.total, total_pages=pages)
