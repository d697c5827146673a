"""All SQL on the bot's outbox: notifications, their attempts, the bot's heartbeat."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, cast, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.models import BotStatus, Client, Notification, NotificationAttempt
from paywarden.models.clients import ACTIVE
from paywarden.models.notifications import BLOCKED, CODE_3DS, FAILED, PENDING, SENDING, SENT

MAX_TG_LENGTH = len("tg_") + 18


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# Enqueueing runs on the card authorization's hot path: its statement is built once per
# dialect (bind parameters, so SQLAlchemy caches the compiled form) and run as Core.
_N = Notification.__table__
_C = Client.__table__
_GIVEN = ("id", "kind", "event_key", "params", "status", "attempts", "next_attempt_at")
_GIVEN += ("created_at", "delete_at")
_TELEGRAM_CLIENT = select(
    *(bindparam(c, type_=_N.c[c].type) for c in _GIVEN),
    _C.c.id,
    cast(func.substr(_C.c.external_user_id, 4), BigInteger),
).where(
    _C.c.id == bindparam("client_id"),
    _C.c.external_user_id.like("tg\\_%", escape="\\"),
    # A Telegram id fits a BIGINT by far; a longer one is no chat (and no overflow).
    func.length(_C.c.external_user_id) <= MAX_TG_LENGTH,
    _C.c.status == ACTIVE,
    _C.c.bot_blocked_at.is_(None),
)
_ENQUEUE = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_N)
    .from_select([*_GIVEN, "client_id", "chat_id"], _TELEGRAM_CLIENT)
    .on_conflict_do_nothing(index_elements=["event_key"])
    for dialect in (postgresql, sqlite)
}


async def insert_for_client(
    session: AsyncSession, client_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    """One statement: the notification written with the client's chat when the client is a
    Telegram user (`tg_<id>`), active, and has not blocked the bot; nothing for a key written
    before. True when written."""
    conn = await session.connection()
    result = await conn.execute(_ENQUEUE[conn.dialect.name], {**values, "client_id": client_id})
    return bool(result.rowcount)


async def for_client(
    session: AsyncSession, client_id: uuid.UUID, limit: int
) -> Sequence[Notification]:
    return (
        await session.scalars(
            select(Notification)
            .where(Notification.client_id == client_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    ).all()


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    sending: int
    oldest_pending: datetime | None
    sent: int
    failed: int
    blocked: int


def _count(status: str) -> Any:
    return func.count().filter(Notification.status == status)


async def queue_counts(session: AsyncSession, since: datetime) -> QueueCounts:
    """The queue now, and what became of the notifications of the period since `since`."""
    n = Notification
    oldest = func.min(n.created_at).filter(n.status == PENDING)
    pending, sending, oldest_at = (
        await session.execute(
            select(_count(PENDING), _count(SENDING), oldest).where(n.status.in_((PENDING, SENDING)))
        )
    ).one()
    sent = await session.scalar(select(func.count()).where(n.status == SENT, n.sent_at >= since))
    failed, blocked = (
        await session.execute(
            select(_count(FAILED), _count(BLOCKED)).where(
                n.status.in_((FAILED, BLOCKED)), n.created_at >= since
            )
        )
    ).one()
    return QueueCounts(pending, sending, oldest_at, sent or 0, failed, blocked)


async def latest_bot_status(session: AsyncSession) -> BotStatus | None:
    query = select(BotStatus).order_by(BotStatus.heartbeat_at.desc()).limit(1)
    return (await session.scalars(query)).first()


async def upsert_bot_status(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = _insert(session, BotStatus.__table__).values(**values)
    changed = {k: stmt.excluded[k] for k in values if k != "id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changed))


async def clear_blocked(session: AsyncSession, client_id: uuid.UUID) -> None:
    await session.execute(update(Client).where(Client.id == client_id).values(bot_blocked_at=None))


async def block_client(session: AsyncSession, client_id: uuid.UUID, now: datetime) -> int:
    """Mark the client as having blocked the bot, and its waiting notifications blocked with
    it (none of them can reach the chat). Returns how many waiting notifications were closed."""
    await session.execute(
        update(Client)
        .where(Client.id == client_id, Client.bot_blocked_at.is_(None))
        .values(bot_blocked_at=now)
    )
    result = await session.execute(
        update(Notification)
        .where(Notification.client_id == client_id, Notification.status == PENDING)
        .values(status=BLOCKED, last_error="the client blocked the bot")
    )
    return int(result.rowcount or 0)


def _urgent_first() -> Any:
    return case((Notification.kind == CODE_3DS, 0), else_=1)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    lease_until: datetime,
    limit: int,
    *,
    exclude_ids: Collection[uuid.UUID] = (),
    full_chats: Collection[int] = (),
    per_chat: int = 2,
) -> Sequence[tuple[Notification, str | None, str | None]]:
    """Lock due notifications (SKIP LOCKED on PostgreSQL): pending ones due, and sending ones
    whose claim lapsed (their sender was killed); 3-D Secure codes first, then the oldest. Mark
    them `sending` until `lease_until`, one more attempt. `exclude_ids` (still in this
    sender's hands) are left alone, as are the rows of `full_chats` but their codes, and of
    each chat at most `per_chat` are taken.
    Returns each with its client's chosen and Telegram languages."""
    n = Notification
    due = (n.status.in_((PENDING, SENDING)), n.next_attempt_at <= now)
    order = (_urgent_first(), n.next_attempt_at, n.id)
    # Each chat's first `per_chat`: a backlog for one client never fills a claim.
    ranked = select(
        n.id, func.row_number().over(partition_by=n.chat_id, order_by=order).label("rank")
    ).where(*due)
    if exclude_ids:
        ranked = ranked.where(n.id.not_in(list(exclude_ids)))
    if full_chats:
        ranked = ranked.where(or_(n.kind == CODE_3DS, n.chat_id.not_in(list(full_chats))))
    firsts = ranked.subquery()
    query = (
        select(n.id)
        # `due` again: a row another sender claimed meanwhile is read afresh once unlocked
        # (PostgreSQL re-checks these conditions, not the subquery's).
        .where(n.id.in_(select(firsts.c.id).where(firsts.c.rank <= per_chat)), *due)
        .order_by(*order)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = (await session.scalars(query)).all()
    if not ids:
        return []
    await session.execute(
        update(n)
        .where(n.id.in_(ids))
        .values(status=SENDING, next_attempt_at=lease_until, attempts=n.attempts + 1)
    )
    rows = await session.execute(
        select(n, Client.app_language, Client.language)
        .join(Client, Client.id == n.client_id)
        .where(n.id.in_(ids))
        .order_by(_urgent_first(), n.created_at)
        .execution_options(populate_existing=True)
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def locked(session: AsyncSession, notification_id: uuid.UUID) -> Notification | None:
    """The row, read afresh and locked for the outcome's update."""
    return await session.get(
        Notification, notification_id, with_for_update=True, populate_existing=True
    )


def add_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(NotificationAttempt(**values))


async def release(session: AsyncSession, ids: Collection[uuid.UUID], now: datetime) -> int:
    """Claimed rows put back, due now: a sender that stopped before sending them."""
    if not ids:
        return 0
    result = await session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.status == SENDING)
        .values(status=PENDING, next_attempt_at=now, attempts=Notification.attempts - 1)
    )
    return int(result.rowcount or 0)


async def release_all_sending(session: AsyncSession, now: datetime) -> int:
    """Every claimed row back to pending, due now (the only sender is starting)."""
    result = await session.execute(
        update(Notification)
        .where(Notification.status == SENDING)
        .values(status=PENDING, next_attempt_at=now)
    )
    return int(result.rowcount or 0)


async def claim_deletions(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> Sequence[tuple[uuid.UUID, int, int]]:
    """Lock sent messages due for deletion and push their `delete_at` to `lease_until` (the
    deletion's claim). Returns (id, chat, message) of each."""
    n = Notification
    rows = (
        await session.execute(
            select(n.id, n.chat_id, n.message_id)
            .where(
                n.delete_at <= now,
                n.status == SENT,
                n.deleted_at.is_(None),
                n.message_id.is_not(None),
            )
            .order_by(n.delete_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return []
    await session.execute(
        update(n).where(n.id.in_([r[0] for r in rows])).values(delete_at=lease_until)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def set_deletion(
    session: AsyncSession,
    notification_id: uuid.UUID,
    *,
    deleted_at: datetime | None = None,
    delete_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"deleted_at": deleted_at} if deleted_at else {"delete_at": delete_at}
    await session.execute(
        update(Notification).where(Notification.id == notification_id).values(**values)
    )
