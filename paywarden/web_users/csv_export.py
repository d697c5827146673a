"""The web users list as CSV, page by page, with spreadsheet formula injection defused."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from paywarden.kit.db import Database
from paywarden.kit.pagination import PageQuery
from paywarden.web_users import service
from paywarden.web_users.repository import WebUserFilter
from paywarden.web_users.schemas import WebUserOut

COLUMNS = [
    "id",
    "email",
    "status",
    "external_user_id",
    "client_id",
    "email_verified_at",
    "created_at",
    "last_login_at",
]
CHUNK = 100
# A cell starting with one of these is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(cells: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(c) for c in cells])
    return out.getvalue()


async def rows(db: Database, f: WebUserFilter) -> AsyncIterator[str]:
    """The header, then every matching user; each chunk read in its own short transaction."""
    yield _line(COLUMNS)
    page = 1
    while True:
        async with db.transaction() as session:
            chunk = await service.search(session, f, PageQuery(page=page, limit=CHUNK))
        for user in chunk.items:
            data = WebUserOut.of(user).model_dump(mode="json")
            yield _line(data[c] for c in COLUMNS)
        if len(chunk.items) < CHUNK:
            return
        page += 1
