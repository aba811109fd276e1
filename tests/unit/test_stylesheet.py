"""The stylesheet keeps two promises a test can read: a focus indicator with at least 3:1 contrast against the
page (WCAG 2.2, 1.4.11 and 2.4.13), and tables that scroll in their own box on a phone instead of breaking words
letter by letter."""

from __future__ import annotations

import re

from config import ROOT

CSS = (ROOT / "app" / "static" / "quorum.css").read_text(encoding="utf-8")
TEMPLATES = ROOT / "templates"


def _luminance(hex_colour: str) -> float:
    """Relative luminance (WCAG 2.x definition)."""
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula() -> None:
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#ffbf47", "#fff"), 1) == 1.6  # the old focus ring, which issue 8 found too faint


def _rule(selector: str) -> str:
    match = re.search(rf"(?m)^{re.escape(selector)}\s*\{{([^}}]*)\}}", CSS)
    assert match, selector
    return match.group(1)


def test_the_focus_outline_stands_out_against_the_page_and_its_own_ring() -> None:
    focus = _rule(":focus")
    outline = re.search(r"outline:\s*(\d+)px solid (#[0-9a-fA-F]{3,6})", focus)
    ring = re.search(r"box-shadow:[^;]*(#[0-9a-fA-F]{3,6})", focus)
    assert outline and ring
    assert int(outline.group(1)) >= 2
    backgrounds = set(re.findall(r"--bg:\s*(#[0-9a-fA-F]{3,6})", CSS)) | {"#fff"}
    for background in backgrounds:
        assert contrast(outline.group(2), background) >= 3, background
    assert contrast(outline.group(2), ring.group(1)) >= 3  # the dark outline against the yellow ring inside it


def test_tables_scroll_in_their_own_box_and_keep_words_whole() -> None:
    assert "overflow-x: auto" in _rule(".table-scroll")
    for selectors, _body in re.findall(r"(?m)^([^{}\n]+)\{([^}]*overflow-wrap:\s*anywhere[^}]*)\}", CSS):
        assert not re.search(r"(^|[\s,])(td|th)\b", selectors), selectors
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<table\b", text):
            before = text[: match.start()].rstrip()
            assert before.endswith('tabindex="0">') and 'class="table-scroll"' in before.splitlines()[-1], (
                f"{template.relative_to(ROOT)}: a table outside a .table-scroll box"
            )
