"""Rules of the B2B profile pool: uploads validated through the issuer before they are saved,
statistics and profile changes (groups, invites and redeems: invites.py). Operator changes are
audited; no audit entry, log line or answer carries a profile's secret.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.b2b import repository as repo
from paywarden.b2b.crypto import ProfileVault
from paywarden.b2b.errors import (
    EmptyUpdate,
    GroupNotFound,
    NoProfiles,
    ProfileNotFound,
    TooManyProfiles,
)
from paywarden.b2b.repository import AVAILABLE, ProfileFilter
from paywarden.issuer.base import IssuerAdapter, IssuerError, ProfileCheck
from paywarden.kit.casing import has_nul
from paywarden.kit.logging import get_logger
from paywarden.kit.pagination import Page, PageQuery
from paywarden.kit.time import utcnow
from paywarden.models import B2bGroup, B2bProfile

log = get_logger(__name__)

MAX_UPLOAD = 500
# Token-flow calls in flight at once: fast enough for 500 profiles, gentle on the issuer.
VALIDATE_CONCURRENCY = 8
VALIDATE_TIMEOUT = 20.0  # seconds per profile
# Fields of the spec format kept in clear; everything else (client_id, client_secret and any
# field we do not know) goes into the encrypted blob.
CLEAR_FIELDS = ("external_id", "label", "group_id")
REQUIRED_SECRETS = ("client_id", "client_secret")
MAX_EXTERNAL_ID = 128
MAX_LABEL = 255


@dataclass
class Entry:
    """One uploaded profile on its way through the checks."""

    index: int
    external_id: str | None
    reason: str | None = None
    label: str | None = None
    group_id: uuid.UUID | None = None
    given: Mapping[str, Any] | None = None
    id: uuid.UUID | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class UploadResult:
    received: int
    saved: int
    entries: list[Entry]


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        return None
    return value.strip()


def _parse(index: int, item: Any, default_group: uuid.UUID | None) -> Entry:
    if not isinstance(item, dict):
        return Entry(index, None, "not a JSON object")
    raw_id = item.get("external_id")
    external_id = _text(raw_id, MAX_EXTERNAL_ID)
    entry = Entry(index, external_id, given=item)
    if has_nul(item):
        entry.reason = "text must not contain NUL characters"
    elif raw_id is not None and external_id is None:
        entry.reason = f"external_id must be a string of 1 to {MAX_EXTERNAL_ID} characters"
    elif item.get("label") is not None and _text(item.get("label"), MAX_LABEL) is None:
        entry.reason = f"label must be a string of 1 to {MAX_LABEL} characters"
    elif any(not isinstance(item.get(k), str) or not item[k] for k in REQUIRED_SECRETS):
        entry.reason = "client_id and client_secret are required (non-empty strings)"
    else:
        entry.label = _text(item.get("label"), MAX_LABEL)
        entry.group_id = default_group
        if item.get("group_id") is not None:
            try:
                entry.group_id = uuid.UUID(str(item["group_id"]))
            except ValueError:
                entry.reason = "group_id is not a valid id"
    return entry


def _secret(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in CLEAR_FIELDS}


async def _check(
    adapter: IssuerAdapter, entry: Entry, gate: asyncio.Semaphore
) -> ProfileCheck | str:
    """The issuer's verdict, or why it could not be had (never echoing the credentials)."""
    assert entry.given is not None
    async with gate:
        try:
            return await asyncio.wait_for(
                adapter.validate_profile(entry.given), timeout=VALIDATE_TIMEOUT
            )
        except TimeoutError:
            return "the issuer did not answer in time"
        except IssuerError as exc:
            return f"issuer error: {exc}"
        except Exception as exc:  # the outside world failed: one profile's result, not a 500
            log.warning("b2b_validate_failed", index=entry.index, error_type=type(exc).__name__)
            return "the issuer could not be reached"


def _mark_duplicates(entries: list[Entry], in_pool: set[str]) -> None:
    first_seen: dict[str, int] = {}
    for e in entries:
        if not e.ok or e.external_id is None:
            continue
        if e.external_id in first_seen:
            e.reason = f"duplicate of profile #{first_seen[e.external_id]} in this upload"
        elif e.external_id in in_pool:
            e.reason = "already in the pool"
        else:
            first_seen[e.external_id] = e.index


async def _dedupe(db: AsyncSession, issuer: str, entries: list[Entry]) -> None:
    ids = [e.external_id for e in entries if e.ok and e.external_id]
    _mark_duplicates(entries, await repo.existing_external_ids(db, issuer, ids))


async def upload(
    db: AsyncSession,
    adapter: IssuerAdapter,
    vault: ProfileVault,
    items: Sequence[Any],
    default_group: uuid.UUID | None,
    actor: Actor,
) -> UploadResult:
    """Check each profile's shape, drop duplicates (in the upload and in the pool), validate
    the rest through the issuer's token flow, and save those that pass, secrets encrypted.

    A profile's `external_id` is the issuer's account id: the one the token flow reports, else
    the one given. Given and reported but different, the profile is refused (the credentials
    are another account's). Duplicates are looked for before the issuer is asked (by the ids
    given) and again after (by the ids reported).
    """
    if not items:
        raise NoProfiles()
    if len(items) > MAX_UPLOAD:
        raise TooManyProfiles(f"At most {MAX_UPLOAD} profiles per upload (got {len(items)})")
    if default_group is not None and await repo.get_group(db, default_group) is None:
        raise GroupNotFound()
    entries = [_parse(i, item, default_group) for i, item in enumerate(items)]
    known = await repo.group_ids(db, {e.group_id for e in entries if e.ok and e.group_id})
    for e in entries:
        if e.ok and e.group_id is not None and e.group_id not in known:
            e.reason = "group_id names no group"
    await _dedupe(db, adapter.name, entries)
    pending = [e for e in entries if e.ok]
    gate = asyncio.Semaphore(VALIDATE_CONCURRENCY)
    verdicts = await asyncio.gather(*(_check(adapter, e, gate) for e in pending))
    for e, verdict in zip(pending, verdicts, strict=True):
        if isinstance(verdict, str):
            e.reason = verdict
        elif not verdict.ok:
            e.reason = verdict.reason or "the issuer refused these credentials"
        elif e.external_id and verdict.external_id and verdict.external_id != e.external_id:
            e.reason = f"the credentials belong to issuer account {verdict.external_id}"
        elif not (e.external_id or verdict.external_id):
            e.reason = "the issuer reported no account id: give external_id"
        else:
            e.external_id = e.external_id or verdict.external_id
    await _dedupe(db, adapter.name, pending)  # ids the issuer reported may repeat
    saved = await _save(db, adapter.name, vault, [e for e in entries if e.ok])
    audit.record(
        db,
        actor,
        "b2b.profiles.upload",
        target_type="b2b_pool",
        details={
            "issuer": adapter.name,
            "received": len(items),
            "saved": [e.external_id for e in saved],
            "failed": [
                {"index": e.index, "external_id": e.external_id, "reason": e.reason}
                for e in entries
                if not e.ok
            ],
        },
    )
    return UploadResult(len(items), len(saved), entries)


async def _save(
    db: AsyncSession, issuer: str, vault: ProfileVault, entries: list[Entry]
) -> list[Entry]:
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for n, e in enumerate(entries):
        assert e.given is not None
        assert e.external_id is not None
        e.id = uuid.uuid4()
        rows.append(
            {
                "id": e.id,
                "issuer": issuer,
                "external_id": e.external_id,
                "label": e.label,
                "secret_encrypted": vault.encrypt(_secret(e.given)),
                "status": AVAILABLE,
                "group_id": e.group_id,
                "validated_at": now,
                # A microsecond apart: redeems hand profiles out in upload order.
                "created_at": now + timedelta(microseconds=n),
            }
        )
    inserted = await repo.insert_profiles(db, rows)
    for e in entries:
        if e.external_id not in inserted:  # another upload saved it while this one validated
            e.reason, e.id = "already in the pool", None
    return [e for e in entries if e.ok]


# ---- the pool ------------------------------------------------------------------------------


async def profiles(db: AsyncSession, f: ProfileFilter, q: PageQuery) -> Page[B2bProfile]:
    rows, total = await repo.page(db, f, q.offset, q.limit)
    return Page(list(rows), q.page, q.limit, total)


@dataclass(frozen=True)
class Tally:
    available: int = 0
    assigned: int = 0
    disabled: int = 0

    @property
    def total(self) -> int:
        return self.available + self.assigned + self.disabled

    def plus(self, status: str, n: int) -> Tally:
        values = {"available": self.available, "assigned": self.assigned, "disabled": self.disabled}
        values[status] += n
        return Tally(**values)


@dataclass(frozen=True)
class Stats:
    all: Tally
    groups: list[tuple[B2bGroup | None, Tally]]  # every group by name, then "no group" if any


async def stats(db: AsyncSession) -> Stats:
    per_group: dict[uuid.UUID | None, Tally] = {}
    overall = Tally()
    for group_id, status, n in await repo.counts(db):
        per_group[group_id] = per_group.get(group_id, Tally()).plus(status, n)
        overall = overall.plus(status, n)
    rows: list[tuple[B2bGroup | None, Tally]] = [
        (g, per_group.get(g.id, Tally())) for g in await repo.groups(db)
    ]
    if None in per_group:
        rows.append((None, per_group[None]))
    return Stats(overall, rows)


async def update_profile(
    db: AsyncSession, profile_id: uuid.UUID, changes: dict[str, Any], actor: Actor
) -> B2bProfile:
    """`status` available (back to the pool, from its client too) or disabled; `group_id`.
    Audited with before and after (a client it was taken from is in `before`)."""
    if not changes:
        raise EmptyUpdate()
    profile = await repo.lock_profile(db, profile_id)  # a redeem may be claiming it right now
    if profile is None:
        raise ProfileNotFound()
    group_id = changes.get("group_id")
    if group_id is not None and await repo.get_group(db, group_id) is None:
        raise GroupNotFound()
    wanted = dict(changes)
    # Back in the pool means no client; disabling keeps the client on record (who had it).
    if wanted.get("status") == AVAILABLE and profile.client_id is not None:
        wanted.update(client_id=None, assigned_at=None)
    before = {k: getattr(profile, k) for k, v in wanted.items() if getattr(profile, k) != v}
    if not before:
        return profile
    for key in before:
        setattr(profile, key, wanted[key])
    await db.flush()
    audit.record(
        db,
        actor,
        "b2b.profile.update",
        target_type="b2b_profile",
        target_id=profile.id,
        details={
            "external_id": profile.external_id,
            "before": {k: _plain(v) for k, v in before.items()},
            "after": {k: _plain(wanted[k]) for k in before},
        },
    )
    return profile


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
