"""The organizer's dashboard: counts, pace per member state, and the daily chart as SVG.

The numbers come from the counters `app.statements` keeps in the transaction of every change (per member state,
and counted statements per day), so the page costs the same at a thousand statements as at a million; `counters
check` proves they equal a recount from the statements.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from markupsafe import Markup

from .eci.member_states import member_states
from .extensions import db
from .models import ConfirmationDay, Initiative, TallyName
from .partners.reports import PartnerRow, partner_rows
from .signing.subscriptions import SubscriberCounts, subscriber_counts
from .statements import tallies

# --- pace: pure arithmetic -------------------------------------------------------------------------------------


def collection_days(start: date, end: date, today: date) -> tuple[int, int]:
    """(days elapsed, days left), both counting today, so that a signature given today helps either way."""
    if today < start:
        return 0, (end - start).days + 1
    elapsed = (min(today, end) - start).days + 1
    left = max(0, (end - today).days + 1)
    return elapsed, left


@dataclass(frozen=True)
class Pace:
    """Statements a day so far, and a day still needed to reach the threshold by the end date."""

    so_far: float | None  # None before the start date
    needed: float | None  # None when the threshold can no longer be reached in time (no day left)
    state: str  # reached, on_track, behind, missed, not_started

    @property
    def on_track(self) -> bool:
        return self.state in ("reached", "on_track")


def pace(confirmed: int, threshold: int, elapsed: int, left: int) -> Pace:
    """Compare the average so far with what the remaining days need; today counts as a day in both."""
    so_far = confirmed / elapsed if elapsed > 0 else None
    missing = max(0, threshold - confirmed)
    if missing == 0:
        return Pace(so_far, 0.0, "reached")
    if left <= 0:
        return Pace(so_far, None, "missed")
    needed = missing / left
    if so_far is None:
        return Pace(None, needed, "not_started")
    return Pace(so_far, needed, "on_track" if so_far >= needed else "behind")


# --- counts: aggregate queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryRow:
    code: str
    name: str
    position: int
    confirmed: int
    pending: int
    quarantined: int
    threshold: int
    pace: Pace

    @property
    def percent(self) -> float:
        """Share of the threshold reached, in percent (may exceed 100)."""
        return round(100.0 * self.confirmed / self.threshold, 1) if self.threshold > 0 else 0.0

    @property
    def reached(self) -> bool:
        return self.confirmed >= self.threshold


@dataclass(frozen=True)
class MailCounts:
    """Outbox messages of the initiative: `queued` waits for its first attempt, `retrying` failed at least once."""

    queued: int
    sent: int
    retrying: int
    failed: int
    bounced: int


@dataclass(frozen=True)
class Dashboard:
    confirmed: int  # confirmed and not quarantined: what counts
    pending: int  # waiting for the signer's confirmation, not quarantined
    quarantined: int  # set aside (any status but invalidated)
    invalidated: int
    countries_reached: int
    min_countries: int
    goal: int
    rows: list[CountryRow]
    daily: list[tuple[date, int]]
    mail: MailCounts
    subscribers: SubscriberCounts
    days_elapsed: int
    days_left: int
    partners: list[PartnerRow]  # what each partner organisation brought, from its counters

    @property
    def without_partner(self) -> int:
        """Counted statements that came through no partner's link or embed."""
        return self.confirmed - sum(row.confirmed for row in self.partners)

    @property
    def not_invalidated(self) -> int:
        return self.confirmed + self.pending + self.quarantined

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmed (not quarantined) over every statement not invalidated, in percent."""
        if self.not_invalidated == 0:
            return None
        return round(100.0 * self.confirmed / self.not_invalidated, 1)


def _daily_confirmed(initiative_id: int) -> dict[date, int]:
    """Counted statements per UTC day of confirmation, summed over the member states (one row per country-day)."""
    rows = db.session.execute(
        sa.select(ConfirmationDay.day, sa.func.sum(ConfirmationDay.confirmed))
        .where(ConfirmationDay.initiative_id == initiative_id)
        .group_by(ConfirmationDay.day)
    )
    return {day: int(count) for day, count in rows if count}


def daily_series(counts: dict[date, int], start: date, end: date, today: date) -> list[tuple[date, int]]:
    """One point a day from the start date to today (or the end date), zeros included; widened to any count
    outside that window so that nothing counted is left off the chart."""
    first = min([start, *counts])
    last = max([min(today, end), *counts])
    if last < first:
        return []
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day, counts.get(day, 0)) for day in days]


def mail_counts(initiative_id: int) -> MailCounts:
    """Delivery state of the initiative's outbox, from the tallies kept wherever a message changes state (a few rows,
    however much mail): enqueue, each delivery attempt, an update's pause, retention."""
    counts = tallies.values(initiative_id)
    return MailCounts(
        queued=counts[TallyName.MAIL_QUEUED],
        sent=counts[TallyName.MAIL_SENT],
        retrying=counts[TallyName.MAIL_RETRYING],
        failed=counts[TallyName.MAIL_FAILED],
        bounced=counts[TallyName.MAIL_BOUNCED],
    )


def dashboard_data(initiative: Initiative, today: date) -> Dashboard:
    """Every number the dashboard shows, read from the counters (statements) and the tallies (mail, subscribers)."""
    elapsed, left = collection_days(initiative.collection_start, initiative.collection_end, today)
    names = member_states()
    rows = [
        CountryRow(
            code=country.country_code,
            name=names[country.country_code].name,
            position=country.position,
            confirmed=country.confirmed_count,
            pending=country.pending_count,
            quarantined=country.quarantined_count,
            threshold=country.threshold,
            pace=pace(country.confirmed_count, country.threshold, elapsed, left),
        )
        for country in initiative.countries
    ]
    return Dashboard(
        confirmed=sum(c.confirmed_count for c in initiative.countries),
        pending=sum(c.pending_count for c in initiative.countries),
        quarantined=sum(c.quarantined_count for c in initiative.countries),
        invalidated=sum(c.invalidated_count for c in initiative.countries),
        countries_reached=sum(1 for row in rows if row.reached),
        min_countries=initiative.min_countries,
        goal=initiative.goal,
        rows=rows,
        daily=daily_series(
            _daily_confirmed(initiative.id), initiative.collection_start, initiative.collection_end, today
        ),
        mail=mail_counts(initiative.id),
        subscribers=subscriber_counts(initiative.id),
        days_elapsed=elapsed,
        days_left=left,
        partners=partner_rows(initiative),
    )


# --- sorting the member-state table (server side: no JavaScript) -----------------------------------------------

SORT_KEYS: dict[str, Callable[[CountryRow], object]] = {
    "country": lambda row: row.name,
    "confirmed": lambda row: row.confirmed,
    "pending": lambda row: row.pending,
    "quarantined": lambda row: row.quarantined,
    "threshold": lambda row: row.threshold,
    "percent": lambda row: row.confirmed / row.threshold if row.threshold else 0.0,
    "needed": lambda row: row.pace.needed,
    "pace": lambda row: row.pace.so_far,
}


def sort_rows(rows: list[CountryRow], sort: str | None, direction: str | None) -> tuple[list[CountryRow], str, str]:
    """Rows ordered by a known column (else the protocol order); values that do not exist go last either way."""
    if sort not in SORT_KEYS:
        return sorted(rows, key=lambda row: row.position), "", "asc"
    direction = "desc" if direction == "desc" else "asc"
    key = SORT_KEYS[sort]
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    # stable: ties keep the protocol order
    present.sort(key=lambda row: row.position)
    present.sort(key=key, reverse=direction == "desc")  # type: ignore[arg-type]
    return present + missing, sort, direction


# --- the daily chart -------------------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"


def nice_ceiling(value: int) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover (the loop always returns)


def daily_chart_svg(
    series: list[tuple[date, int]], title: str, description: str, empty_text: str, width: int = 720, height: int = 220
) -> Markup:
    """Bars, one per day, with an accessible title and description; well-formed XML, no script."""
    left, right, top, bottom = 48, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {width} {height}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": "daily-title daily-desc",
            "class": "daily-chart",
        },
    )
    ET.SubElement(svg, "title", {"id": "daily-title"}).text = title
    ET.SubElement(svg, "desc", {"id": "daily-desc"}).text = description
    axis = {"stroke": "#555d66", "stroke-width": "1"}
    ET.SubElement(
        svg,
        "line",
        {"x1": str(left), "y1": str(top + plot_h), "x2": str(left + plot_w), "y2": str(top + plot_h), **axis},
    )
    ET.SubElement(svg, "line", {"x1": str(left), "y1": str(top), "x2": str(left), "y2": str(top + plot_h), **axis})
    label = {"font-size": "12", "fill": "#555d66"}
    if not series:
        ET.SubElement(svg, "text", {"x": str(left + 8), "y": str(top + plot_h // 2), **label}).text = empty_text
        return Markup(ET.tostring(svg, encoding="unicode"))  # noqa: S704 (ElementTree escapes every text)
    top_value = nice_ceiling(max(count for _day, count in series))
    ET.SubElement(
        svg, "text", {"x": str(left - 6), "y": str(top + 4), "text-anchor": "end", **label}
    ).text = f"{top_value:,}"
    ET.SubElement(svg, "text", {"x": str(left - 6), "y": str(top + plot_h), "text-anchor": "end", **label}).text = "0"
    slot = plot_w / len(series)
    bars = ET.SubElement(svg, "g", {"class": "days", "fill": "#0b5cad"})
    for index, (day, count) in enumerate(series):
        bar_h = plot_h * count / top_value
        rect = ET.SubElement(
            bars,
            "rect",
            {
                "class": "day",
                "data-date": day.isoformat(),
                "data-count": str(count),
                "x": f"{left + index * slot + slot * 0.1:.2f}",
                "y": f"{top + plot_h - bar_h:.2f}",
                "width": f"{max(slot * 0.8, 0.5):.2f}",
                "height": f"{bar_h:.2f}",
            },
        )
        ET.SubElement(rect, "title").text = f"{day.isoformat()}: {count:,}"
    baseline = str(height - 8)
    ET.SubElement(svg, "text", {"x": str(left), "y": baseline, **label}).text = series[0][0].isoformat()
    ET.SubElement(svg, "text", {"x": str(left + plot_w), "y": baseline, "text-anchor": "end", **label}).text = series[
        -1
    ][0].isoformat()
    return Markup(ET.tostring(svg, encoding="unicode"))  # noqa: S704 (ElementTree escapes every text)
