"""The preview card social sites show beside a shared link: the title and the progress, drawn by Quorum as a PNG.

Social sites take PNG or JPEG, not SVG, at 1200x630 (the OpenGraph large-image size). The font, DejaVu Sans, is
carried in the project (`fonts/`, with its licence) and covers Latin, Greek and Cyrillic: every EU language.
Cards are cached by what they show, least recently used out first, within a fixed number of bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
FONTS = Path(__file__).resolve().parent / "fonts"
MARGIN = 72
INK, MUTED, ACCENT, TRACK = "#1b1f24", "#555d66", "#0b5cad", "#e7eaee"
TITLE_SIZES = (64, 58, 52, 46, 40)
TITLE_LINES = 3


@dataclass(frozen=True)
class CardContent:
    """Everything a card shows, already translated and formatted: the cache key, and the card a function of it."""

    site: str  # e.g. "quorum.example.org"
    title: str
    count: str  # "12,345"
    count_label: str  # "confirmed statements of support"
    goal_line: str  # "Goal: 1,000,000 · 3 of 7 member states at their threshold"
    share: float  # of the goal, 0..1 (more is drawn as 1)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Words into lines no wider than `width`; a word wider than a line is cut where it must be."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width:
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _title_lines(title: str, width: float) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest size at which the title fits in three lines; at the smallest, the third line ends in '…'."""
    for size in TITLE_SIZES:
        font = _font(True, size)
        lines = wrap(title, font, width)
        if len(lines) <= TITLE_LINES:
            return font, lines
    lines = lines[:TITLE_LINES]
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1].rstrip()
    lines[-1] = last + "…"
    return font, lines


def _fitting(text: str, bold: bool, size: int, width: float) -> ImageFont.FreeTypeFont:
    """The given size, or smaller until one line of `text` fits (a long translation)."""
    while size > 14 and _font(bold, size).getlength(text) > width:
        size -= 2
    return _font(bold, size)


def render_card(content: CardContent) -> bytes:
    """A 1200x630 PNG: the site, the title, the count, a bar towards the goal, the goal and member states."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "#ffffff")
    draw = ImageDraw.Draw(image)
    inner = WIDTH - 2 * MARGIN
    draw.rectangle((0, 0, WIDTH, 14), fill=ACCENT)

    draw.text((MARGIN, 52), content.site, font=_fitting(content.site, False, 28, inner), fill=MUTED, anchor="la")

    font, lines = _title_lines(content.title, inner)
    y = 112
    for line in lines:
        draw.text((MARGIN, y), line, font=font, fill=INK, anchor="la")
        y += round(font.size * 1.22)

    baseline = 468
    count_font = _fitting(content.count, True, 96, inner * 0.6)
    draw.text((MARGIN, baseline), content.count, font=count_font, fill=ACCENT, anchor="ls")
    label_x = MARGIN + count_font.getlength(content.count) + 24
    label_font = _fitting(content.count_label, False, 36, WIDTH - MARGIN - label_x)
    draw.text((label_x, baseline), content.count_label, font=label_font, fill=INK, anchor="ls")

    top, bar_height = 496, 30
    draw.rounded_rectangle((MARGIN, top, WIDTH - MARGIN, top + bar_height), radius=8, fill=TRACK)
    share = min(max(content.share, 0.0), 1.0)
    if share > 0:
        filled = max(bar_height, round(inner * share))  # a start is visible, however small
        draw.rounded_rectangle((MARGIN, top, MARGIN + filled, top + bar_height), radius=8, fill=ACCENT)

    goal_font = _fitting(content.goal_line, False, 30, inner)
    draw.text((MARGIN, 560), content.goal_line, font=goal_font, fill=MUTED, anchor="la")

    out = io.BytesIO()
    image.save(out, "PNG")  # optimize=True saves 4 % for four times the time
    return out.getvalue()


class CardCache:
    """Rendered cards by content, least recently used out first, never more than `max_bytes` held in all."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._cards: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cards)

    @property
    def size(self) -> int:
        return self._size

    def card(self, content: CardContent) -> tuple[bytes, str]:
        """(PNG, its key): from the cache, or drawn now (outside the lock: two threads may both draw a new card)."""
        key = content.key()
        with self._lock:
            png = self._cards.get(key)
            if png is not None:
                self._cards.move_to_end(key)
                return png, key
        png = render_card(content)
        with self._lock:
            if key not in self._cards and len(png) <= self.max_bytes:
                self._cards[key] = png
                self._size += len(png)
                while self._size > self.max_bytes:
                    _old, dropped = self._cards.popitem(last=False)
                    self._size -= len(dropped)
        return png, key
