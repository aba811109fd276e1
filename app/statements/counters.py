"""The counters: per member state (confirmed, pending, quarantined, invalidated), counted statements per day, and
counted statements per partner organisation and member state.

They move only here, in the transaction of the change they count, by set-based UPDATEs that never read first.
`check` recounts everything from the statements with the same rules and says where a counter is off; `repair`
sets them right in one audited transaction (`flask --app wsgi counters check [--repair]`). Both cover the staff
pages' tallies too (`tallies`: mail, subscribers, fingerprints, quarantines).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..database import upsert_add
from ..extensions import db
from ..models import (
    ConfirmationDay,
    Initiative,
    InitiativeCountry,
    Partner,
    PartnerCountry,
    Statement,
    StatementStatus,
)
from . import tallies
from .rules import counted

KINDS = ("confirmed", "pending", "quarantined", "invalidated")
"""The per-country counters, by the column name stem (`confirmed` -> `confirmed_count`)."""


def move(initiative_id: int, country: str, **deltas: int) -> None:
    """Add to one member state's counters, e.g. move(i, "DE", pending=-1, confirmed=1); zero deltas are skipped."""
    if any(deltas.values()):
        db.session.execute(moving(initiative_id, country, **deltas))


def moving(
    initiative_id: int | sa.BindParameter[int], country: str | sa.BindParameter[str], **deltas: int
) -> sa.Update:
    """`move` as a statement, for a caller that sends it as part of a larger one (lifecycle.submit on PostgreSQL,
    with its values bound by name)."""
    values = {
        f"{kind}_count": getattr(InitiativeCountry, f"{kind}_count") + delta for kind, delta in deltas.items() if delta
    }
    return (
        sa.update(InitiativeCountry)
        .where(InitiativeCountry.initiative_id == initiative_id, InitiativeCountry.country_code == country)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def move_day(initiative_id: int, country: str, day: date, delta: int) -> None:
    """Add to the counted statements of one confirmation day (a row is made on the first one)."""
    if delta:
        upsert_add(
            ConfirmationDay.__table__,
            {"initiative_id": initiative_id, "country_code": country, "day": day},
            "confirmed",
            delta,
        )


def day_moving(rows: sa.Select[Any], delta: int) -> sa.Insert:
    """`move_day` as a statement, for each (initiative_id, country_code, day) that `rows` yields: for a caller that
    sends it as part of a larger one (lifecycle.confirm on PostgreSQL)."""
    table = ConfirmationDay.__table__
    return (
        postgresql.insert(table)
        .from_select(["initiative_id", "country_code", "day", "confirmed"], rows.add_columns(sa.literal(delta)))
        .on_conflict_do_update(
            index_elements=list(table.primary_key.columns), set_={"confirmed": table.c.confirmed + delta}
        )
    )


def move_days(initiative_id: int, confirmed_at: list[tuple[str, datetime | None]], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) a set of counted statements from the daily series."""
    per_day = Counter((country, moment.date()) for country, moment in confirmed_at if moment is not None)
    for (country, day), count in sorted(per_day.items()):
        move_day(initiative_id, country, day, sign * count)


def move_partner(partner_id: int | None, country: str, delta: int) -> None:
    """Add to the counted statements a partner brought from one member state (a row is made on the first one)."""
    if partner_id is not None and delta:
        upsert_add(PartnerCountry.__table__, {"partner_id": partner_id, "country_code": country}, "confirmed", delta)


def move_partners(moved: list[tuple[str, int | None]], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) a set of counted statements, (country, partner), from the partners'."""
    per_partner = Counter((partner_id, country) for country, partner_id in moved if partner_id is not None)
    for (partner_id, country), count in sorted(per_partner.items()):
        move_partner(partner_id, country, sign * count)


# --- the recount ----------------------------------------------------------------------------------------------


def _quarantined() -> sa.ColumnElement[bool]:
    return sa.and_(
        Statement.quarantine_id.is_not(None),
        Statement.status.in_((StatementStatus.PENDING, StatementStatus.CONFIRMED)),
    )


def recount(initiative_id: int) -> dict[str, dict[str, int]]:
    """{country: {kind: count}} counted afresh from the statements, with the same rules the counters follow."""

    def tally(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    rows = db.session.execute(
        sa.select(
            Statement.country_code,
            tally(counted()),
            tally(sa.and_(Statement.status == StatementStatus.PENDING, Statement.quarantine_id.is_(None))),
            tally(_quarantined()),
            tally(Statement.status == StatementStatus.INVALIDATED),
        )
        .where(Statement.initiative_id == initiative_id)
        .group_by(Statement.country_code)
    )
    return {code: dict(zip(KINDS, map(int, values), strict=True)) for code, *values in rows}


def recount_days(initiative_id: int) -> dict[tuple[str, date], int]:
    """Counted statements per (country, UTC day of confirmation), from the statements."""
    day = sa.func.date(Statement.confirmed_at)
    rows = db.session.execute(
        sa.select(Statement.country_code, day, sa.func.count())
        .where(Statement.initiative_id == initiative_id, counted())
        .group_by(Statement.country_code, day)
    )
    # SQLite's date() gives text, PostgreSQL's a date
    return {
        (code, value if isinstance(value, date) else date.fromisoformat(str(value))): int(count)
        for code, value, count in rows
    }


def recount_partners(initiative_id: int) -> dict[tuple[int, str], int]:
    """Counted statements per (partner, country), from the statements."""
    rows = db.session.execute(
        sa.select(Statement.partner_id, Statement.country_code, sa.func.count())
        .where(Statement.initiative_id == initiative_id, Statement.partner_id.is_not(None), counted())
        .group_by(Statement.partner_id, Statement.country_code)
    )
    return {(int(partner_id), code): int(count) for partner_id, code, count in rows}


def kept_partners(initiative_id: int) -> dict[tuple[int, str], int]:
    """The partners' counters of one initiative, as kept."""
    rows = db.session.execute(
        sa.select(PartnerCountry.partner_id, PartnerCountry.country_code, PartnerCountry.confirmed)
        .join(Partner, Partner.id == PartnerCountry.partner_id)
        .where(Partner.initiative_id == initiative_id)
    )
    return {(int(partner_id), code): int(confirmed) for partner_id, code, confirmed in rows}


@dataclass
class CounterReport:
    """What differs for one initiative: {(country, kind): (kept, recounted)} and {(country, day): (kept, recounted)}."""

    initiative: Initiative
    countries: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    days: dict[tuple[str, date], tuple[int, int]] = field(default_factory=dict)
    partners: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)  # {(partner id, country): ...}
    skipped: str = ""
    tallies: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)  # tallies.differences

    @property
    def ok(self) -> bool:
        return not self.countries and not self.days and not self.partners and not self.tallies

    def tally_lines(self, shown: int = 10) -> list[str]:
        """A line per tally that is off; of the fingerprints (there may be millions) the first `shown`."""
        slug = self.initiative.slug
        lines = [
            f"{slug} {tallies.describe(key)}: tally {kept}, recount {actual} ({actual - kept:+d})"
            for key, (kept, actual) in self.tallies.items()
            if not tallies.is_fingerprint(key)
        ]
        fingerprints = [key for key in self.tallies if tallies.is_fingerprint(key)]
        for key in fingerprints[:shown]:
            kept, actual = self.tallies[key]
            lines.append(f"{slug} {tallies.describe(key)}: tally {kept}, recount {actual} ({actual - kept:+d})")
        if len(fingerprints) > shown:
            lines.append(f"{slug}: and {len(fingerprints) - shown} more fingerprints")
        return lines

    def lines(self) -> list[str]:
        slug = self.initiative.slug
        if self.skipped:
            return [f"{slug}: {self.skipped}", *self.tally_lines()]
        if self.ok:
            return [f"{slug}: every counter equals its recount"]
        out = [
            f"{slug} {code} {kind}: counter {kept}, recount {actual} ({actual - kept:+d})"
            for (code, kind), (kept, actual) in sorted(self.countries.items())
        ]
        out += [
            f"{slug} {code} confirmed on {day.isoformat()}: counter {kept}, recount {actual} ({actual - kept:+d})"
            for (code, day), (kept, actual) in sorted(self.days.items())
        ]
        out += [
            f"{slug} partner {partner_id} {code} confirmed: counter {kept}, recount {actual} ({actual - kept:+d})"
            for (partner_id, code), (kept, actual) in sorted(self.partners.items())
        ]
        return out + self.tally_lines()

    def as_details(self) -> dict[str, object]:
        return {
            "countries": {f"{c} {k}": [kept, actual] for (c, k), (kept, actual) in sorted(self.countries.items())},
            "days": {f"{c} {d.isoformat()}": [kept, actual] for (c, d), (kept, actual) in sorted(self.days.items())},
            "partners": {f"{p} {c}": [kept, actual] for (p, c), (kept, actual) in sorted(self.partners.items())},
            # fingerprints only by number: the audit log keeps nothing about a person, not even a keyed hash
            "tallies": {
                tallies.describe(key): [kept, actual]
                for key, (kept, actual) in self.tallies.items()
                if not tallies.is_fingerprint(key)
            },
            "fingerprints": sum(1 for key in self.tallies if tallies.is_fingerprint(key)),
        }


def check(initiative: Initiative) -> CounterReport:
    """Compare every counter of one initiative with its recount; changes nothing."""
    report = CounterReport(initiative, tallies=tallies.differences(initiative.id))
    if initiative.statements_purged_at is not None:
        report.skipped = (
            f"statements destroyed on {initiative.statements_purged_at:%Y-%m-%d} (retention): the counters are the "
            "historical count and nothing is left to recount"
        )
        return report
    actual = recount(initiative.id)
    for country in initiative.countries:
        counts = actual.get(country.country_code, {})
        for kind in KINDS:
            kept = getattr(country, f"{kind}_count")
            if kept != counts.get(kind, 0):
                report.countries[(country.country_code, kind)] = (kept, counts.get(kind, 0))
    days = recount_days(initiative.id)
    kept_days = {
        (row.country_code, row.day): row.confirmed
        for row in db.session.scalars(sa.select(ConfirmationDay).where(ConfirmationDay.initiative_id == initiative.id))
    }
    for key in sorted(set(days) | set(kept_days)):
        if kept_days.get(key, 0) != days.get(key, 0):
            report.days[key] = (kept_days.get(key, 0), days.get(key, 0))
    partners, kept = recount_partners(initiative.id), kept_partners(initiative.id)
    for pair in sorted(set(partners) | set(kept)):
        if kept.get(pair, 0) != partners.get(pair, 0):
            report.partners[pair] = (kept.get(pair, 0), partners.get(pair, 0))
    return report


def repair(report: CounterReport) -> None:
    """Set every counter the report names to its recount (the caller audits it; the boundary commits)."""
    initiative = report.initiative
    for (code, kind), (_kept, actual) in report.countries.items():
        db.session.execute(
            sa.update(InitiativeCountry)
            .where(InitiativeCountry.initiative_id == initiative.id, InitiativeCountry.country_code == code)
            .values({f"{kind}_count": actual})
            .execution_options(synchronize_session=False)
        )
    for (code, day), (kept, actual) in report.days.items():
        move_day(initiative.id, code, day, actual - kept)
    db.session.execute(
        sa.delete(ConfirmationDay)
        .where(ConfirmationDay.initiative_id == initiative.id, ConfirmationDay.confirmed == 0)
        .execution_options(synchronize_session=False)
    )
    for (partner_id, code), (kept, actual) in report.partners.items():
        move_partner(partner_id, code, actual - kept)
    db.session.execute(
        sa.delete(PartnerCountry)
        .where(
            PartnerCountry.partner_id.in_(sa.select(Partner.id).where(Partner.initiative_id == initiative.id)),
            PartnerCountry.confirmed == 0,
        )
        .execution_options(synchronize_session=False)
    )
    tallies.repair(initiative.id, report.tallies)
    db.session.expire(initiative)
