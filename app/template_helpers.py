"""Template helpers shared by every page."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from flask import Flask
from flask_babel import format_decimal, format_percent, gettext, ngettext
from markdown_it import MarkdownIt
from markupsafe import Markup

from .eci.countries import country_name
from .initiative_texts import ShownText, shown_text
from .languages import current_language
from .links import links
from .models import Initiative

# Raw HTML in a summary is shown as text, and markdown-it refuses javascript: and data: links.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})

MARKDOWN_LIMIT = 50_000
"""Longer text is shown as plain text, never parsed: markdown-it's work grows with the length (up to ~25 µs a
character, bench/markdown.py), and text stored before the caps of `app.initiatives.TEXT_LIMITS`, or by hand, must not
hold every page for seconds. 50,000 is the longest update body (`app.updates.writing.BODY_MAX`)."""
CACHE_CHARACTERS = 8_000_000
"""How much rendered HTML one process keeps (about 16 MB): hundreds of initiatives' texts in every language."""


class RenderedMarkdown:
    """The HTML of each Markdown text, rendered once per process and kept by the SHA-256 of the text: the text's
    revision. An edit is a new text, so a new key, and nothing is ever stale; the least recently shown go first."""

    def __init__(self, max_characters: int) -> None:
        self.max_characters = max_characters
        self._held: OrderedDict[bytes, str] = OrderedDict()
        self._characters = 0
        self._lock = threading.Lock()

    def html(self, text: str) -> str:
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            html = self._held.get(key)
            if html is not None:
                self._held.move_to_end(key)
                return html
        html = _render(text)
        with self._lock:
            if key not in self._held:
                self._held[key] = html
                self._characters += len(html)
            while self._characters > self.max_characters and len(self._held) > 1:
                _key, dropped = self._held.popitem(last=False)
                self._characters -= len(dropped)
        return html

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._characters = 0


def _render(text: str) -> str:
    if len(text) > MARKDOWN_LIMIT:
        return str(Markup("<p>{}</p>\n").format(text))  # escaped, in time proportional to its length
    return _markdown.render(text)


rendered_markdown = RenderedMarkdown(CACHE_CHARACTERS)


def render_markdown(text: str) -> Markup:
    """Organizers write summaries and updates in Markdown; what reaches the page is safe HTML, rendered once for each
    revision of the text (in each language, as each language's text is its own)."""
    return Markup(rendered_markdown.html(text or ""))  # noqa: S704


def fill(message: str, **values: object) -> Markup:
    """A translated message's placeholders filled, each value escaped unless it is markup already: `_()` here formats
    plain text, so a title quoted in its own language (`ShownText.marked`, a `<span lang>`) goes through this."""
    return Markup.escape(message) % values


def register(app: Flask) -> None:
    app.template_filter("markdown")(render_markdown)
    app.template_filter("fill")(fill)

    @app.template_filter("number")
    def number(value: float) -> str:
        """1,000,000 in English, 1.000.000 in German, 1 000 000 in Polish (Babel, CLDR)."""
        return format_decimal(value)

    @app.template_filter("percent")
    def percent(part: int, whole: int) -> float:
        if whole <= 0:
            return 0.0
        return min(100.0, round(100.0 * part / whole, 1))

    @app.template_filter("percent_text")
    def percent_text(value: float) -> str:
        """12.5 % as the page's language writes it ("12,5 %" in German), one decimal."""
        return format_percent(value / 100, "#,##0.0 %")

    @app.template_filter("country_name")
    def country_name_filter(code: str) -> str:
        """The country's name in the page's language, from CLDR."""
        return country_name(code, current_language())

    @app.template_global("external_url")
    def external_url(endpoint: str, **values: object) -> str:
        """An absolute link under BASE_URL, for emails (app.links)."""
        return links().external(endpoint, **values)

    @app.template_global("initiative_text")
    def initiative_text(initiative: Initiative) -> ShownText:
        """The initiative's own words in the page's language (the default language's where it has none)."""
        return shown_text(initiative, current_language())

    from .admin.access import current_staff
    from .admin.status_names import status_name
    from .models import InitiativeStatus, PublicStatus, StaffRole

    app.jinja_env.globals.update(
        _=gettext,
        ngettext=ngettext,
        current_staff=current_staff,
        StaffRole=StaffRole,
        PublicStatus=PublicStatus,
        InitiativeStatus=InitiativeStatus,
        status_name=status_name,
    )
