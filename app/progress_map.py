"""The progress map: member states coloured by confirmed statements as a share of their threshold, drawn as SVG.

The outlines are the project's own data file (`app/data/europe_map.json`, made by `scripts/europe_map.py` from
Natural Earth, public domain; see `app/data/NOTICE.md`), read once. The page shows the same numbers in a table
beside the map, so the map is a picture (`role="img"` with a title and a description), not the only way in.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

from babel.numbers import format_decimal
from flask_babel import gettext as _
from markupsafe import Markup

from .eci.countries import country_name
from .eci.signer import N_
from .languages import current_language

SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class Step:
    """One colour of the scale: `key` is the class the map and the legend carry, `label` a message id."""

    key: str
    label: str
    fill: str


# Shares of the threshold, lowest first. The blues darken with progress; "reached" is the green the table's bars
# use. Outside the initiative: a neutral grey, darker than the neighbours outside the Union around it.
NONE_YET = Step("none", N_("no statements yet"), "#dbe9f6")
QUARTERS = (
    Step("under-25", N_("under 25 %"), "#a9cbec"),
    Step("25-49", N_("25 to 49 %"), "#6fa6db"),
    Step("50-74", N_("50 to 74 %"), "#3b82c4"),
    Step("75-99", N_("75 to 99 %"), "#17599c"),
)
REACHED = Step("reached", N_("threshold reached"), "#1d7a3a")
NOT_TAKING_PART = Step("not-taking-part", N_("not taking part"), "#bcc1c7")
NEIGHBOUR_FILL = "#e2e4e7"
SEA = "#f3f7fb"
BORDER = "#ffffff"


def step_for(confirmed: int, threshold: int) -> Step:
    """The colour of a count against its threshold, in whole quarters (integer arithmetic: no rounding at 25 %)."""
    if confirmed >= threshold:
        return REACHED
    if confirmed <= 0:
        return NONE_YET
    return QUARTERS[4 * confirmed // threshold]


class CountryCount(Protocol):
    """What the map needs of a member state's row; the public progress and the dashboard rows both have it."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def confirmed(self) -> int: ...
    @property
    def threshold(self) -> int: ...


@cache
def outlines() -> dict[str, Any]:
    """The converted outlines: viewBox size, one path per member state (a dot for the smallest), the neighbours."""
    text = resources.files("app").joinpath("data/europe_map.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ProgressMap:
    svg: Markup
    legend: list[Step]  # labels are message ids: translate where shown


def _percent(confirmed: int, threshold: int) -> str:
    """One decimal, as the page's language writes it ("12,5" in German)."""
    share = 100.0 * confirmed / threshold if threshold > 0 else 0.0
    return format_decimal(share, "#,##0.0", locale=current_language())


def progress_map(countries: Iterable[CountryCount], id_prefix: str = "map") -> ProgressMap:
    """Every member state drawn: those of the initiative in their step's colour, the others neutral."""
    data = outlines()
    rows = {row.code: row for row in countries}
    width, height = data["width"], data["height"]
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {width} {height}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": f"{id_prefix}-title {id_prefix}-desc",
            "class": "progress-map",
        },
    )
    reached = sum(1 for row in rows.values() if row.confirmed >= row.threshold)
    ET.SubElement(svg, "title", {"id": f"{id_prefix}-title"}).text = _("Map of progress by member state")
    ET.SubElement(svg, "desc", {"id": f"{id_prefix}-desc"}).text = _(
        "Each member state taking part is coloured by its confirmed statements as a share of its threshold; "
        "%(reached)d of %(taking_part)d have reached it. The table gives the same numbers.",
        reached=reached,
        taking_part=len(rows),
    )
    ET.SubElement(svg, "rect", {"class": "sea", "width": str(width), "height": str(height), "fill": SEA})
    ET.SubElement(
        svg,
        "path",
        {"class": "neighbours", "d": data["context"], "fill": NEIGHBOUR_FILL, "stroke": BORDER, "aria-hidden": "true"},
    )
    states = ET.SubElement(
        svg,
        "g",
        {
            "class": "member-states",
            "stroke": BORDER,
            "stroke-width": "0.8",
            "stroke-linejoin": "round",
            "fill-rule": "evenodd",
        },
    )
    used = [NONE_YET, *QUARTERS, REACHED]
    outside = False
    for code, shape in data["member_states"].items():
        row = rows.get(code)
        step = step_for(row.confirmed, row.threshold) if row is not None else NOT_TAKING_PART
        outside = outside or row is None
        group = ET.SubElement(
            states,
            "g",
            {"class": f"state step-{step.key}", "data-country": code, "data-step": step.key, "fill": step.fill},
        )
        if row is None:
            label = _("%(country)s: not taking part in this initiative", country=country_name(code, current_language()))
        else:
            label = _(
                "%(country)s: %(confirmed)s of %(threshold)s (%(percent)s %%)",
                country=country_name(code, current_language()),
                confirmed=format_decimal(row.confirmed, locale=current_language()),
                threshold=format_decimal(row.threshold, locale=current_language()),
                percent=_percent(row.confirmed, row.threshold),
            )
        ET.SubElement(group, "title").text = label
        ET.SubElement(group, "path", {"d": shape["d"]})
        if "dot" in shape:  # Malta and Luxembourg: too small to see or point at on their own
            x, y = shape["dot"]
            ET.SubElement(group, "circle", {"cx": str(x), "cy": str(y), "r": "7"})
    legend = used + ([NOT_TAKING_PART] if outside else [])
    return ProgressMap(Markup(ET.tostring(svg, encoding="unicode")), legend)  # noqa: S704 (ElementTree escapes)
