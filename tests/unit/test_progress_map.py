"""The progress map's pure parts: the colour of a count, the SVG it draws, and the outline data it is drawn from."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.eci.member_states import member_states
from app.progress_map import outlines, progress_map, step_for

NS = {"svg": "http://www.w3.org/2000/svg"}
DATA = Path(__file__).resolve().parents[2] / "app" / "data"

# The scale, written here from the design (docs/decisions/007): shares of the threshold in whole quarters.
COLOURS = {
    "none": "#dbe9f6",
    "under-25": "#a9cbec",
    "25-49": "#6fa6db",
    "50-74": "#3b82c4",
    "75-99": "#17599c",
    "reached": "#1d7a3a",
    "not-taking-part": "#bcc1c7",
}


@pytest.mark.parametrize(
    ("confirmed", "threshold", "step"),
    [
        (0, 100, "none"),
        (1, 100, "under-25"),
        (24, 100, "under-25"),
        (25, 100, "25-49"),
        (49, 100, "25-49"),
        (50, 100, "50-74"),
        (74, 100, "50-74"),
        (75, 100, "75-99"),
        (99, 100, "75-99"),
        (100, 100, "reached"),
        (250, 100, "reached"),
        # real thresholds (eci-2024): a quarter of Austria's 14,400 is 3,600; Malta needs 4,320
        (3_599, 14_400, "under-25"),
        (3_600, 14_400, "25-49"),
        (4_319, 4_320, "75-99"),
        (4_320, 4_320, "reached"),
        (1, 69_120, "under-25"),  # one statement in Germany is a start, not "none"
    ],
)
def test_a_count_takes_the_colour_of_its_share_of_the_threshold(confirmed: int, threshold: int, step: str) -> None:
    assert step_for(confirmed, threshold).key == step
    assert step_for(confirmed, threshold).fill == COLOURS[step]


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    confirmed: int
    threshold: int


ROWS = [
    Row("DE", "Germany", 0, 69_120),
    Row("AT", "Austria", 3_600, 14_400),
    Row("MT", "Malta", 4_320, 4_320),
    Row("PL", "Poland", 30_000, 38_160),
    Row("GR", "Greece", 7_560, 15_120),
    Row("FI", "Finland", 1, 10_800),
]
EXPECTED = {"DE": "none", "AT": "25-49", "MT": "reached", "PL": "75-99", "GR": "50-74", "FI": "under-25"}


def _svg(rows: list[Row]) -> ET.Element:
    return ET.fromstring(str(progress_map(rows).svg))  # noqa: S314 (our own output)


def _states(svg: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-country"): g for g in svg.iterfind(".//svg:g[@data-country]", NS)}  # type: ignore[misc]


def test_each_member_state_is_filled_with_the_colour_its_count_gives() -> None:
    states = _states(_svg(ROWS))
    assert set(states) == set(member_states())  # all 27 drawn, once each
    for code, step in EXPECTED.items():
        assert states[code].get("fill") == COLOURS[step], code
        assert states[code].get("data-step") == step
        assert f"step-{step}" in states[code].get("class", "").split()


def test_member_states_outside_the_initiative_are_drawn_neutral() -> None:
    states = _states(_svg(ROWS))
    outside = set(member_states()) - set(EXPECTED)
    assert len(outside) == 21
    for code in outside:
        assert states[code].get("fill") == COLOURS["not-taking-part"], code
        assert states[code].find("svg:title", NS).text == (  # type: ignore[union-attr]
            f"{member_states()[code].name}: not taking part in this initiative"
        )


def test_the_svg_is_a_labelled_picture_and_every_state_says_its_numbers() -> None:
    svg = _svg(ROWS)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("role") == "img"
    title, desc = svg.find("svg:title", NS), svg.find("svg:desc", NS)
    assert title is not None and title.text == "Map of progress by member state"
    assert desc is not None and "1 of 6 have reached it" in (desc.text or "")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    states = _states(svg)
    assert states["AT"].find("svg:title", NS).text == "Austria: 3,600 of 14,400 (25.0 %)"  # type: ignore[union-attr]
    assert states["FI"].find("svg:title", NS).text == "Finland: 1 of 10,800 (0.0 %)"  # type: ignore[union-attr]
    assert states["MT"].find("svg:circle", NS) is not None  # too small to see without its dot
    assert not svg.findall(".//svg:script", NS) and "<script" not in str(progress_map(ROWS).svg)


def test_names_come_from_cldr_not_from_the_rows() -> None:
    """The map names a state in the page's language from CLDR (English outside a request), whatever a row carries;
    ElementTree writes it as text, never as markup."""
    rows = [Row("DE", 'Germany <script>alert("x")</script> & co', 5, 100)]
    markup = str(progress_map(rows).svg)
    assert "<script>" not in markup and "alert" not in markup
    title = _states(ET.fromstring(markup))["DE"].find("svg:title", NS)  # noqa: S314
    assert title is not None and title.text == "Germany: 5 of 100 (5.0 %)"


def test_the_legend_lists_the_steps_and_neutral_only_when_a_state_is_outside() -> None:
    every = [Row(code, s.name, 0, s.threshold_720) for code, s in member_states().items()]
    assert [s.key for s in progress_map(every).legend] == ["none", "under-25", "25-49", "50-74", "75-99", "reached"]
    assert [s.key for s in progress_map(ROWS).legend][-1] == "not-taking-part"


def test_the_outline_file_holds_every_member_state_and_its_source_and_licence() -> None:
    data = outlines()
    assert set(data["member_states"]) == set(member_states())
    assert "Natural Earth" in data["source"] and "public domain" in data["licence"]
    for code, shape in data["member_states"].items():
        assert re.fullmatch(r"(M-?\d+ -?\d+l[-\d ]+z)+", shape["d"]), code
        for ring in shape["d"].split("z")[:-1]:  # every point of every ring lies in the frame
            numbers = [int(n) for n in re.findall(r"-?\d+", ring)]
            x, y = numbers[0], numbers[1]
            for step in range(2, len(numbers), 2):
                x, y = x + numbers[step], y + numbers[step + 1]
                assert -3 <= x <= data["width"] + 3 and -3 <= y <= data["height"] + 3, code
    size = (DATA / "europe_map.json").stat().st_size
    assert size < 64 * 1024, f"the outline file grew to {size} bytes"
    notice = (DATA / "NOTICE.md").read_text(encoding="utf-8")
    assert "public domain" in notice and "ISC" in notice and "scripts/europe_map.py" in notice
    assert json.loads((DATA / "europe_map.json").read_text(encoding="utf-8")) == data
