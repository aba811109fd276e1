"""Reading the audit log: filters and pages, newest first, limited to the initiatives a staff member may see."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import AuditEntry, Initiative

PER_PAGE = 50


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
        if self.until:
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


@dataclass(frozen=True)
class Page:
    rows: list[Row] = field(default_factory=list)
    number: int = 1
    total: int = 0
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def search(wanted: AuditFilter, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of matching entries, newest first, with the total for the pager."""
    where = wanted.conditions()
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*where)) or 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = db.session.execute(
        sa.select(AuditEntry, Initiative.slug)
        .outerjoin(Initiative, Initiative.id == AuditEntry.initiative_id)
        .where(*where)
        .order_by(AuditEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page([Row(entry, slug) for entry, slug in rows], page, total, per_page)


def actions() -> list[str]:
    """The kinds of action the log holds, for the filter's choices."""
    return list(db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
