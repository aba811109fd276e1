"""Creating initiatives and reading their progress: shared by the CLI, the staff side and the public pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from .eci.member_states import ECI_GOAL, ECI_MIN_COUNTRIES, RULE_SETS, member_states
from .extensions import db
from .models import Initiative, InitiativeCountry, Statement, utcnow

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


class InitiativeError(ValueError):
    """An initiative cannot be created or changed as asked; the message says why."""


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_dates(start: date, end: date) -> None:
    """At most 12 months of collection from the start date the organizer picks (Art. 8(1))."""
    if end < start:
        raise InitiativeError("the end date is before the start date")
    if end >= add_months(start, 12):
        raise InitiativeError("collection may last at most 12 months: the end date must be before "
                              f"{add_months(start, 12).isoformat()}")


def create_initiative(
    *,
    slug: str,
    title: str,
    start: date,
    end: date,
    rule_set: str = "eci-2024",
    draft: bool = False,
    summary: str = "",
    countries: list[str] | None = None,
    goal: int = ECI_GOAL,
    min_countries: int = ECI_MIN_COUNTRIES,
) -> Initiative:
    """Add an initiative and its member-state rules from the ECI table (not committed)."""
    if not SLUG.match(slug):
        raise InitiativeError("the slug must be lower-case letters, digits and hyphens (at most 80)")
    if not title.strip():
        raise InitiativeError("the title is empty")
    if rule_set not in RULE_SETS:
        raise InitiativeError(f"rules must be one of {', '.join(RULE_SETS)}")
    check_dates(start, end)
    if db.session.scalar(sa.select(Initiative.id).where(Initiative.slug == slug)) is not None:
        raise InitiativeError(f"an initiative with slug {slug!r} exists already")
    states = member_states()
    codes = [c.upper() for c in countries] if countries else list(states)
    unknown = [c for c in codes if c not in states]
    if unknown:
        raise InitiativeError(f"not member states: {', '.join(unknown)}")
    initiative = Initiative(
        slug=slug,
        title=title.strip(),
        summary=summary,
        rule_set=rule_set,
        goal=goal,
        min_countries=min_countries,
        collection_start=start,
        collection_end=end,
        status="draft" if draft else "collecting",
    )
    position = 0
    for code, state in states.items():
        if code not in codes:
            continue
        initiative.countries.append(
            InitiativeCountry(
                country_code=code,
                position=position,
                threshold=state.threshold(rule_set),
                min_age=state.min_age,
                data_part=state.data_part,
                id_types="|".join(state.id_types),
            )
        )
        position += 1
    db.session.add(initiative)
    db.session.flush()
    return initiative


def find_initiative(slug: str) -> Initiative | None:
    return db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))


@dataclass(frozen=True)
class CountryProgress:
    code: str
    name: str
    confirmed: int
    threshold: int

    @property
    def reached(self) -> bool:
        return self.confirmed >= self.threshold


@dataclass(frozen=True)
class Progress:
    confirmed: int
    countries: list[CountryProgress]
    countries_reached: int
    as_of: datetime


def progress(initiative: Initiative) -> Progress:
    """Totals read from the per-country counters: the cost does not grow with the number of statements."""
    names = member_states()
    rows = [
        CountryProgress(c.country_code, names[c.country_code].name, c.confirmed_count, c.threshold)
        for c in initiative.countries
    ]
    return Progress(
        confirmed=sum(r.confirmed for r in rows),
        countries=rows,
        countries_reached=sum(1 for r in rows if r.reached),
        as_of=utcnow(),
    )


def recount(initiative_id: int) -> dict[str, int]:
    """Confirmed, unquarantined statements per country, counted from the statements themselves."""
    rows = db.session.execute(
        sa.select(Statement.country_code, sa.func.count())
        .where(
            Statement.initiative_id == initiative_id,
            Statement.status == "confirmed",
            Statement.quarantine_id.is_(None),
        )
        .group_by(Statement.country_code)
    )
    return {code: count for code, count in rows}


def reconcile_counters(initiative: Initiative) -> dict[str, tuple[int, int]]:
    """Set each counter to its recount; returns {country: (was, now)} for those that differed."""
    counts = recount(initiative.id)
    changed: dict[str, tuple[int, int]] = {}
    for country in initiative.countries:
        actual = counts.get(country.country_code, 0)
        if country.confirmed_count != actual:
            changed[country.country_code] = (country.confirmed_count, actual)
            country.confirmed_count = actual
    return changed
