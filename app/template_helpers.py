"""Template helpers shared by every page."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext, ngettext
from markdown_it import MarkdownIt
from markupsafe import Markup

from .eci.member_states import member_states

# Raw HTML in a summary is shown as text, and markdown-it refuses javascript: and data: links.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> Markup:
    """Organizers write summaries in Markdown; what reaches the page is safe HTML."""
    return Markup(_markdown.render(text or ""))  # noqa: S704


def register(app: Flask) -> None:
    app.template_filter("markdown")(render_markdown)

    @app.template_filter("number")
    def number(value: int) -> str:
        return f"{value:,}"

    @app.template_filter("percent")
    def percent(part: int, whole: int) -> float:
        if whole <= 0:
            return 0.0
        return min(100.0, round(100.0 * part / whole, 1))

    @app.template_filter("country_name")
    def country_name(code: str) -> str:
        state = member_states().get(code)
        return state.name if state else code

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
