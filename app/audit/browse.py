"""Reading the audit log: filters and pages by id, newest first, limited to the initiatives a staff member may see;
every matching entry for a download."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import AuditEntry, Initiative
from .actions import action_label

PER_PAGE = 50
COUNT_CAP = 1000
DOWNLOAD_BATCH = 1000


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asked for. `initiative_ids` None means every entry, instance-wide ones included."""

    initiative_ids: Sequence[int] | None = None
    instance_only: bool = False
    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the whole day

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.instance_only:
            where.append(AuditEntry.initiative_id.is_(None))
        elif self.initiative_ids is not None:
            where.append(AuditEntry.initiative_id.in_(list(self.initiative_ids)))
        if self.action:
            where.append(AuditEntry.action == self.action)
        if self.actor:
            where.append(sa.func.lower(AuditEntry.actor).contains(self.actor.lower(), autoescape=True))
        if self.since:
            where.append(AuditEntry.created_at >= datetime.combine(self.since, time.min))
        if self.until and self.until < date.max:  # the last day a date can name leaves nothing after it
            where.append(AuditEntry.created_at < datetime.combine(self.until + timedelta(days=1), time.min))
        return where


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    initiative_slug: str | None

    @property
    def details(self) -> dict[str, Any]:
        try:
            value = json.loads(self.entry.details or "{}")
        except ValueError:
            return {"unreadable": self.entry.details}
        return value if isinstance(value, dict) else {"value": value}

    @property
    def details_text(self) -> str:
        return json.dumps(self.details, ensure_ascii=False, indent=2, sort_keys=True)

    @property
    def action_label(self) -> str:
        return action_label(self.entry.action)


@dataclass(frozen=True)
class Page:
    """One page of entries, newest first, and where the pages before and after it start (keys, not offsets)."""

    rows: list[Row] = field(default_factory=list)
    total: int = 0
    total_capped: bool = False
    newer_than: int | None = None  # `after=` of the link to newer entries, None on the newest page
    older_than: int | None = None  # `before=` of the link to older entries, None on the oldest page


def _count(wanted: AuditFilter, where: list[ColumnElement[bool]]) -> tuple[int, bool]:
    """How many entries match, counted up to COUNT_CAP: counting every match would read them all. Without a filter
    the newest id is the count, since ids run without a gap (a broken log is shown as broken anyway)."""
    if not where:
        return int(db.session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0), False
    capped = sa.select(AuditEntry.id).where(*where).limit(COUNT_CAP + 1).subquery()
    counted = int(db.session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0)
    return min(counted, COUNT_CAP), counted > COUNT_CAP


def _exists(where: list[ColumnElement[bool]]) -> bool:
    return db.session.scalar(sa.select(AuditEntry.id).where(*where).limit(1)) is not None


def search(wanted: AuditFilter, before: int | None = None, after: int | None = None, per_page: int = PER_PAGE) -> Page:
    """One page of matching entries, newest first: the newest ones, those just older than `before`, or those just
    newer than `after`. Paging by id reads one page whatever the page's depth (an OFFSET reads every row it skips)."""
    where = wanted.conditions()
    query = sa.select(AuditEntry, Initiative.slug).outerjoin(Initiative, Initiative.id == AuditEntry.initiative_id)
    found: list[tuple[AuditEntry, str | None]] = []
    if after is not None:
        found = [
            (entry, slug)
            for entry, slug in db.session.execute(
                query.where(*where, AuditEntry.id > after).order_by(AuditEntry.id).limit(per_page + 1)
            )
        ]
        if len(found) <= per_page:  # reached the newest entries: show the newest page
            after = None
            found = []
        else:
            found = found[:per_page][::-1]
    if after is None:
        condition = [AuditEntry.id < before] if before is not None else []
        found = [
            (entry, slug)
            for entry, slug in db.session.execute(
                query.where(*where, *condition).order_by(AuditEntry.id.desc()).limit(per_page + 1)
            )
        ]
        older = len(found) > per_page
        found = found[:per_page]
        newer = before is not None and bool(found) and _exists([*where, AuditEntry.id > found[0][0].id])
    else:
        newer = True
        older = _exists([*where, AuditEntry.id < found[-1][0].id])
    total, capped = _count(wanted, where)
    rows = [Row(entry, slug) for entry, slug in found]
    return Page(
        rows,
        total,
        capped,
        newer_than=rows[0].entry.id if rows and newer else None,
        older_than=rows[-1].entry.id if rows and older else None,
    )


def batch_after(wanted: AuditFilter, after: int, size: int = DOWNLOAD_BATCH) -> list[Row]:
    """The next `size` matching entries after entry `after`, oldest first: a download reads the log batch by batch,
    with no cursor held open while the client reads."""
    found = db.session.execute(
        sa.select(AuditEntry, Initiative.slug)
        .outerjoin(Initiative, Initiative.id == AuditEntry.initiative_id)
        .where(*wanted.conditions(), AuditEntry.id > after)
        .order_by(AuditEntry.id)
        .limit(size)
    )
    return [Row(entry, slug) for entry, slug in found]
