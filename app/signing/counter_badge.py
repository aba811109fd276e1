"""The counter as an SVG badge partner sites put in an `<img>` or a frame: the count against the goal and a bar.

Drawn with ElementTree, so every text is escaped; no script, no link, no font or image from anywhere. Text widths are
estimated and pinned with `textLength`, as shields.io does, so the badge looks the same whatever font the reader has.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
HEIGHT = 28
FONT_SIZE = 12
CHAR_WIDTH = 6.9  # DejaVu Sans and Verdana at 12 px, on average; `textLength` makes the estimate exact
PADDING = 10
BAR = 4


def text_width(text: str) -> int:
    return round(len(text) * CHAR_WIDTH)


def badge_svg(count_text: str, label: str, share: float, title: str) -> str:
    """`count_text` in bold and `label` after it, over a bar filled to `share` (0 to 1) of the width."""
    count_w, label_w = text_width(count_text) + 1, text_width(label)
    width = PADDING + count_w + 6 + label_w + PADDING
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": str(width),
            "height": str(HEIGHT),
            "viewBox": f"0 0 {width} {HEIGHT}",
            "role": "img",
            "aria-label": f"{count_text} {label}",
        },
    )
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "rect", {"width": str(width), "height": str(HEIGHT), "rx": "4", "fill": "#0b3d73"})
    font = {"font-family": "DejaVu Sans,Verdana,Geneva,sans-serif", "font-size": str(FONT_SIZE), "fill": "#ffffff"}
    baseline = str(HEIGHT - BAR - 8)
    count = ET.SubElement(
        svg,
        "text",
        {"x": str(PADDING), "y": baseline, "font-weight": "bold", "textLength": str(count_w), **font},
    )
    count.text = count_text
    rest = ET.SubElement(
        svg, "text", {"x": str(PADDING + count_w + 6), "y": baseline, "textLength": str(label_w), **font}
    )
    rest.text = label
    filled = max(0.0, min(1.0, share))
    ET.SubElement(svg, "rect", {"y": str(HEIGHT - BAR), "width": str(width), "height": str(BAR), "fill": "#5c7fa8"})
    ET.SubElement(
        svg,
        "rect",
        {
            "class": "filled",
            "y": str(HEIGHT - BAR),
            "width": f"{width * filled:.1f}",
            "height": str(BAR),
            "fill": "#ffbf47",
        },
    )
    return ET.tostring(svg, encoding="unicode")
