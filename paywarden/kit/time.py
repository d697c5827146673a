"""UTC time, and the one way times are rendered: ISO 8601, milliseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def as_utc(value: datetime | None) -> datetime | None:
    """A time given without an offset is read as UTC, as every time in the API is."""
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


def until_inclusive(value: datetime | None) -> datetime | None:
    """An upper bound given to the millisecond (as times are shown) includes that millisecond."""
    value = as_utc(value)
    if value is None or value.microsecond % 1000:
        return value
    return value + timedelta(microseconds=999)
