"""The dashboard's pure parts: days of collection, pace, the daily series, sorting and the SVG chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from app.dashboard import (
    SVG_NS,
    CountryRow,
    Pace,
    collection_days,
    daily_chart_svg,
    daily_series,
    nice_ceiling,
    pace,
    sort_rows,
)

START = date(2026, 1, 1)
END = date(2026, 12, 31)  # 365 days


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 12, 20), (0, 365)),  # before the start: nothing elapsed, the whole period ahead
        (START, (1, 365)),  # the first day counts on both sides
        (date(2026, 1, 10), (10, 356)),
        (END, (365, 1)),  # the last day is still a day to sign
        (date(2027, 1, 5), (365, 0)),  # after the end: the whole period elapsed, nothing left
    ],
)
def test_collection_days(today: date, expected: tuple[int, int]) -> None:
    assert collection_days(START, END, today) == expected


def test_pace_on_track_and_behind() -> None:
    # 1,000 confirmed in 10 days = 100 a day; 4,000 still needed in 40 days = 100 a day: exactly on track
    assert pace(1000, 5000, 10, 40) == Pace(100.0, 100.0, "on_track")
    behind = pace(999, 5000, 10, 40)
    assert behind.state == "behind" and not behind.on_track
    assert behind.so_far == pytest.approx(99.9) and behind.needed == pytest.approx(4001 / 40)


def test_pace_reached_missed_and_not_started() -> None:
    assert pace(5000, 5000, 10, 40) == Pace(500.0, 0.0, "reached")
    assert pace(7000, 5000, 10, 0).state == "reached"  # reached stays reached after the end
    missed = pace(10, 5000, 365, 0)
    assert missed == Pace(10 / 365, None, "missed") and not missed.on_track
    assert pace(0, 720, 0, 100) == Pace(None, 7.2, "not_started")


def test_pace_of_a_zero_threshold_is_reached() -> None:
    assert pace(0, 0, 5, 5).state == "reached"


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (99, 100), (101, 200), (4321, 5000)],
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_daily_series_has_one_point_a_day_with_zeros() -> None:
    counts = {date(2026, 1, 2): 5, date(2026, 1, 4): 1}
    series = daily_series(counts, START, END, today=date(2026, 1, 5))
    assert series == [
        (date(2026, 1, 1), 0),
        (date(2026, 1, 2), 5),
        (date(2026, 1, 3), 0),
        (date(2026, 1, 4), 1),
        (date(2026, 1, 5), 0),
    ]


def test_daily_series_stops_at_the_end_date_and_widens_to_counted_days() -> None:
    assert len(daily_series({}, START, END, today=date(2027, 6, 1))) == 365
    # a confirmation outside the window (e.g. dates moved) is still drawn
    series = daily_series({date(2025, 12, 30): 2}, START, END, today=date(2026, 1, 2))
    assert series[0] == (date(2025, 12, 30), 2) and len(series) == 4


def test_daily_series_is_empty_before_the_start() -> None:
    assert daily_series({}, START, END, today=date(2025, 12, 1)) == []


def _row(code: str, position: int, confirmed: int, threshold: int, needed: float | None) -> CountryRow:
    return CountryRow(
        code=code,
        name={"DE": "Germany", "AT": "Austria", "MT": "Malta"}[code],
        position=position,
        confirmed=confirmed,
        pending=0,
        quarantined=0,
        threshold=threshold,
        pace=Pace(1.0, needed, "behind"),
    )


ROWS = [_row("DE", 0, 30, 100, 2.0), _row("AT", 1, 30, 50, None), _row("MT", 2, 40, 40, 0.5)]


def test_sort_rows() -> None:
    def codes(sort: str | None, direction: str | None) -> list[str]:
        return [r.code for r in sort_rows(ROWS, sort, direction)[0]]

    assert codes(None, None) == ["DE", "AT", "MT"]  # the protocol order
    assert codes("nonsense", "desc") == ["DE", "AT", "MT"]
    assert codes("country", "asc") == ["AT", "DE", "MT"]
    assert codes("country", "desc") == ["MT", "DE", "AT"]
    assert codes("confirmed", "desc") == ["MT", "DE", "AT"]  # ties keep the protocol order
    assert codes("confirmed", "asc") == ["DE", "AT", "MT"]
    assert codes("percent", "desc") == ["MT", "AT", "DE"]
    assert codes("needed", "asc") == ["MT", "DE", "AT"]  # no value goes last either way
    assert codes("needed", "desc") == ["DE", "MT", "AT"]
    assert sort_rows(ROWS, "threshold", "sideways")[1:] == ("threshold", "asc")


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 (our own output, not untrusted input)


def test_svg_is_well_formed_with_one_bar_a_day() -> None:
    series = [(START + timedelta(days=n), n % 4) for n in range(30)]
    svg = _parse(daily_chart_svg(series, "Per day <&>", 'desc "quoted"', "empty"))
    assert svg.tag == f"{{{SVG_NS}}}svg"
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "daily-title daily-desc"
    assert svg.find(f"{{{SVG_NS}}}title").text == "Per day <&>"  # escaped in, read back intact
    assert svg.find(f"{{{SVG_NS}}}desc").text == 'desc "quoted"'
    bars = svg.findall(f".//{{{SVG_NS}}}rect[@class='day']")
    assert [(b.get("data-date"), int(b.get("data-count"))) for b in bars] == [(d.isoformat(), c) for d, c in series]
    # the axis runs to 5 (the nice ceiling of the largest day, 3) over a plot 180 units high, bars stand on y=192
    assert [float(b.get("height")) for b in bars] == pytest.approx([180 * c / 5 for _d, c in series])
    assert all(float(b.get("y")) + float(b.get("height")) == pytest.approx(192) for b in bars)
    assert [t.text for t in bars[3].findall(f"{{{SVG_NS}}}title")] == ["2026-01-04: 3"]
    assert not svg.findall(f".//{{{SVG_NS}}}script")


def test_svg_without_days_says_so() -> None:
    svg = _parse(daily_chart_svg([], "Per day", "nothing", "Collection has not started yet."))
    assert not svg.findall(f".//{{{SVG_NS}}}rect")
    assert "Collection has not started yet." in [t.text for t in svg.iter(f"{{{SVG_NS}}}text")]
