"""The 24 official languages of the EU: which one a page speaks, the switch between them, and Babel's formats.

The language of a request, first that applies (docs/decisions/006-languages.md):
1. an explicit choice: `?lang=xx` on any URL (the switch on every page links there), remembered in a cookie that
   holds nothing but the code;
2. the browser's `Accept-Language`;
3. on an initiative's pages, the initiative's default language;
4. English.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from babel import Locale
from flask import Flask, Response, current_app, has_request_context, request, request_started
from flask_babel import format_date, get_locale, refresh
from werkzeug.datastructures import LanguageAccept

from .extensions import babel, db

LANGUAGES = (
    "bg", "es", "cs", "da", "de", "et", "el", "en", "fr", "ga", "hr", "it",
    "lv", "lt", "hu", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "fi", "sv",
)  # fmt: skip
"""The official languages of the EU (Regulation No 1/1958, as amended), in the EU's protocol order: by each
language's name in itself, as the EU's own sites list them."""

T = TypeVar("T")

CHOICE = "lang"
"""The query parameter that chooses a language, and the name of the cookie that remembers the choice."""
CHOICE_MAX_AGE = 365 * 24 * 3600

PUBLIC_PAGES = frozenset({"signing.home", "signing.initiative_page", "signing.sign_form", "signing.privacy"})
"""Pages search engines may show: they list their other languages (`hreflang`). Pages behind a link from an
email (confirm, unsubscribe) are nobody's to index."""


def offered() -> tuple[str, ...]:
    """The languages this instance speaks: LANGUAGES, unless a test adds its pseudo-locale."""
    return tuple(current_app.config["LANGUAGES"])


def _accepted(languages: tuple[str, ...]) -> str | None:
    """The browser's best match among `languages`, by language alone: "fr-BE, de;q=0.5" is French, though only
    German matches exactly. A bare `*` is no preference (it would pick Bulgarian, the first)."""
    primary = [(value.split("-")[0].lower(), quality) for value, quality in request.accept_languages if value != "*"]
    return LanguageAccept(primary).best_match(languages)


def _initiative_default() -> str | None:
    """On a signer's page of an initiative, the language its organizers wrote it in: from the initiative the view
    has loaded already in this transaction (the signing views load it first), else from the database."""
    from .initiatives import SLUG, loaded_initiative
    from .models import Initiative

    slug = (request.view_args or {}).get("slug")
    if request.blueprint != "signing" or not isinstance(slug, str) or not SLUG.match(slug):
        return None
    loaded = loaded_initiative(slug)
    if loaded is not None:
        return loaded.default_locale
    try:
        return db.session.scalar(sa.select(Initiative.default_locale).where(Initiative.slug == slug))
    except sa.exc.SQLAlchemyError:  # the database is away: the page that says so still needs a language
        return None


def select_locale() -> str:
    """The language of this request, in the order the module docstring gives; outside a request, the default."""
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    languages = offered()
    chosen = request.args.get(CHOICE, "")
    if chosen in languages:
        return chosen
    remembered = request.cookies.get(CHOICE, "")
    if remembered in languages:
        return remembered
    default = _accepted(languages) or _initiative_default()
    return default if default in languages else str(current_app.config["BABEL_DEFAULT_LOCALE"])


def current_language() -> str:
    """The code of the language this request speaks ("de", "pl"); outside a request, English."""
    locale = get_locale()
    return str(locale) if locale is not None else "en"


def html_lang(code: str) -> str:
    """A locale code as HTML's `lang` and `hreflang` want it (BCP 47: "en-001", not "en_001")."""
    return code.replace("_", "-")


@cache
def endonym(code: str) -> str:
    """A language's name in itself ("polski", "Deutsch"), as a switch must show it to someone who reads no other."""
    return Locale.parse(code).get_display_name(code) or code


def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name in another language, by default the page's ("en" on a German page: "Englisch")."""
    return Locale.parse(in_language or current_language()).languages.get(code.split("_")[0]) or endonym(code)


def url_with(code: str | None) -> str:
    """This page's address with `lang` set to `code` (or removed), every other query parameter kept."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != CHOICE]
    if code is not None:
        args.append((CHOICE, code))
    return request.path + (f"?{urlencode(args)}" if args else "")


def alternates() -> list[tuple[str, str]]:
    """(hreflang, absolute URL) for each language of a public page, and `x-default` for the choice by browser."""
    from .links import links

    if request.method != "GET" or request.endpoint not in PUBLIC_PAGES:
        return []
    values = dict(request.view_args or {})
    values.update((key, value) for key, value in request.args.items() if key != CHOICE)
    build = links().external
    return [(html_lang(code), build(request.endpoint, **values, **{CHOICE: code})) for code in offered()] + [
        ("x-default", build(request.endpoint, **values))
    ]


def language_switch() -> list[tuple[str, str, str, str]]:
    """(code, BCP 47 tag, name in itself, this page in that language) for each language of the switch."""
    return [(other, html_lang(other), endonym(other), url_with(other)) for other in offered()]


class OnDemand(Generic[T]):
    """A list for templates, made when a template first reads it: an email rendered during a request never builds
    the page's language switch and alternates."""

    def __init__(self, make: Callable[[], list[T]]) -> None:
        self._make = make
        self._made: list[T] | None = None

    def _items(self) -> list[T]:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __iter__(self) -> Iterator[T]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


def format_day(day: date) -> str:
    """A date as the signer's language writes it in full ("25. März 2026", "25 marca 2026")."""
    return format_date(day, "long")


def init_babel(app: Flask) -> None:
    """Flask-Babel with this module's choice of language; a catalog left uncompiled is named in the log."""
    app.config.setdefault("LANGUAGES", LANGUAGES)
    babel.init_app(app, locale_selector=select_locale)
    stale = sorted(
        po.parent.parent.name
        for directory in str(app.config["BABEL_TRANSLATION_DIRECTORIES"]).split(";")
        for po in Path(directory).glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    )
    if stale:
        # the pages would show English where a translation exists (README, "Languages")
        app.logger.warning("catalogs not compiled, run `make translations` (pybabel compile): %s", ", ".join(stale))


def _choose_afresh(_sender: Flask, **_extra: object) -> None:
    """Each request chooses its language, even where an app context outlives one request (as in tests)."""
    refresh()


def register(app: Flask) -> None:
    """The switch and the alternates in every template, dates in words, and the remembered choice."""

    request_started.connect(_choose_afresh, app)

    @app.context_processor
    def languages() -> dict[str, object]:
        code = current_language()
        if not has_request_context():  # an email written by a command: the language, and no switch
            return {"page_lang": html_lang(code)}
        return {
            "page_lang": html_lang(code),
            "language_switch": OnDemand(language_switch),
            "current_endonym": endonym(code),
            "alternates": OnDemand(alternates),
        }

    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals["language_name"] = language_name

    @app.after_request
    def remember_choice(response: Response) -> Response:
        """Keep `?lang=xx` in a cookie (the code alone); pages that depend on the language say so to caches."""
        chosen = request.args.get(CHOICE, "")
        if chosen in offered() and request.cookies.get(CHOICE) != chosen:
            response.set_cookie(
                CHOICE,
                chosen,
                max_age=CHOICE_MAX_AGE,
                secure=bool(app.config["SESSION_COOKIE_SECURE"]),
                httponly=True,
                samesite="Lax",
            )
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
            response.headers.setdefault("Content-Language", html_lang(current_language()))
        return response
