"""The SVG badge: well-formed, every text escaped, the bar filled to the share of the goal, nothing active in it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.signing.counter_badge import badge_svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def test_the_badge_is_plain_escaped_svg() -> None:
    svg = badge_svg("12,345", "of 1,000,000 <b>confirmed</b> & counted", 0.25, 'Title "quoted" <script>')
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("svg:title", NS).text == 'Title "quoted" <script>'
    texts = [t.text for t in root.findall("svg:text", NS)]
    assert texts == ["12,345", "of 1,000,000 <b>confirmed</b> & counted"]
    assert "<script" not in svg and "<b>" not in svg
    assert not [e for e in root.iter() if e.tag.endswith(("script", "a", "image", "foreignObject"))]
    width = float(root.get("width"))
    filled = root.find("svg:rect[@class='filled']", NS)
    assert float(filled.get("width")) == round(width * 0.25, 1)


def test_the_bar_stays_within_the_badge() -> None:
    for share, expected in ((-1.0, 0.0), (0.0, 0.0), (3.0, 1.0)):
        root = ET.fromstring(badge_svg("1", "x", share, "t"))  # noqa: S314 (our own output)
        filled = float(root.find("svg:rect[@class='filled']", NS).get("width"))
        assert filled == round(float(root.get("width")) * expected, 1)
