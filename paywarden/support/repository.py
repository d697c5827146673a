"""All SQL on the support settings row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.time import utcnow
from paywarden.models import SupportSettings
from paywarden.models.support import SETTINGS_ROW

_table = SupportSettings.__table__


async def get(session: AsyncSession) -> SupportSettings | None:
    return await session.get(SupportSettings, SETTINGS_ROW)


async def get_for_update(session: AsyncSession, defaults: dict[str, object]) -> SupportSettings:
    """The row, created with `defaults` if missing, locked until the transaction ends.

    INSERT ... ON CONFLICT DO NOTHING first, so two first saves at once never collide.
    """
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(_table)
        .values(id=SETTINGS_ROW, updated_at=utcnow(), updated_by="", **defaults)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = await session.scalar(
        select(SupportSettings)
        .where(SupportSettings.id == SETTINGS_ROW)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row
