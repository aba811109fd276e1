"""Template helpers shared by every page."""

from __future__ import annotations

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


def render_markdown(text: str) -> Markup:
    """Organizers write summaries in Markdown; what reaches the page is safe HTML."""
    return Markup(_markdown.render(text or ""))  # noqa: S704


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
    from .models import InitiativeStatus, PublicStatus, StaffRole

    app.jinja_env.globals.update(
        _=gettext,
        ngettext=ngettext,
        current_staff=current_staff,
        StaffRole=StaffRole,
        PublicStatus=PublicStatus,
        InitiativeStatus=InitiativeStatus,
    )
