"""What the sign form is made of that is the same for every signer, made once per process and initiative revision
instead of on every request (issue 10, docs/decisions/014-signing-path-performance.md).

- the rules of the initiative's member states (`signing_rules`), per revision;
- the choices and the rules' JSON for the page's script (`form_choices`), per revision and language;
- the blank form itself (`blank_sign_form`), per revision, language and member state: rendered once through the
  same templates as any other sign page, with a marker where each per-request part goes, then kept as text and
  slots. A request fills the slots: the CSRF token, the proof-of-work challenge, and the language switch's and the
  alternates' links (they carry the request's query string: kept per address and query string). A form with what a
  signer typed or with errors is rendered whole (`render_sign_form`), with the choices from here.

The key is the initiative's revision (`app.initiatives.revision`: it moves on every edit of the initiative, its texts
or its member states), read with the initiative on every request. So each app server keeps its own copy and never
shows an edited initiative's old page: nothing has to be told to forget anything. The caches are bounded (least
recently used goes first) and belong to the app (`register_services` makes them, so `reconfigure` in tests starts
afresh). With templates reloading (development), pages are rendered whole every time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template, request
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape

from ..eci.signer import Problem, SigningRules
from ..initiatives import revision
from ..languages import alternates, current_language, language_switch
from ..models import Initiative, Partner
from ..template_slots import Recent, SlottedText, json_marker, marker
from .forms import FormChoices, SignPage, form_choices
from .forms import signing_rules as rules_of

_KEY = "quorum.page_cache"
RULES_KEPT = 64  # revisions: a few initiatives, and the one before an edit until its last reader is gone
CHOICES_KEPT = 256  # revisions x languages, a few kilobytes each
PAGES_KEPT = 512  # revisions x languages x member states, about 20 kB each: at most about 10 MB a process
LINKS_KEPT = 512  # addresses with their query strings, about 5 kB each


@dataclass
class PageCache:
    """One app's caches (app.extensions["quorum.page_cache"])."""

    rules: Recent[Hashable, dict[str, SigningRules]]
    choices: Recent[Hashable, FormChoices]
    pages: Recent[Hashable, SlottedText]
    links: Recent[Hashable, dict[str, str]]

    @classmethod
    def new(cls) -> PageCache:
        return cls(Recent(RULES_KEPT), Recent(CHOICES_KEPT), Recent(PAGES_KEPT), Recent(LINKS_KEPT))


def init_page_cache(app: Flask) -> None:
    app.extensions[_KEY] = PageCache.new()


def _cache() -> PageCache:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]


def signing_rules(initiative: Initiative) -> dict[str, SigningRules]:
    """The rules the initiative froze for each of its member states (its member-state rows are read on a miss)."""
    return _cache().rules.get(revision(initiative), lambda: rules_of(initiative))


def choices(initiative: Initiative, locale: str) -> FormChoices:
    """The form's choices and its rules' JSON in `locale`."""
    return _cache().choices.get((revision(initiative), locale), lambda: form_choices(signing_rules(initiative), locale))


def sign_page(initiative: Initiative, values: Mapping[str, str], problems: Mapping[str, Problem]) -> SignPage:
    """The page model of the sign form in this request's language, with the rules and choices made once."""
    locale = current_language()
    return SignPage(initiative, signing_rules(initiative), values, locale, problems, choices(initiative, locale))


def render_sign_form(
    initiative: Initiative,
    values: Mapping[str, str],
    problems: Mapping[str, Problem],
    challenge: object,
    **context: Any,
) -> str:
    """sign.html whole, for what was typed and the errors found."""
    page = sign_page(initiative, values, problems)
    return render_template("signing/sign.html", initiative=initiative, page=page, proof_of_work=challenge, **context)


# --- the blank form, rendered once with slots ---------------------------------------------------------------------


def _tojson(value: object) -> str:
    """What the `tojson` filter writes for `value` (Jinja's own function, with the app's JSON policies)."""
    policies = current_app.jinja_env.policies
    return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **policies["json.dumps_kwargs"])


def _render_with_slots(
    initiative: Initiative, values: Mapping[str, str], partner: Partner | None, with_challenge: bool
) -> SlottedText:
    html = render_sign_form(
        initiative,
        values,
        {},
        json_marker("challenge") if with_challenge else None,
        partner=partner,
        csrf_token=lambda: marker("csrf"),
        language_switch=[(code, tag, name, marker(f"lang:{code}")) for code, tag, name, _href in language_switch()],
        alternates=[(hreflang, marker(f"alternate:{hreflang}")) for hreflang, _href in alternates()],
    )
    return SlottedText.cut(html)


def _links() -> dict[str, str]:
    """The language switch's and the alternates' links of this address, escaped as the templates escape them."""
    return {
        **{f"lang:{code}": str(escape(href)) for code, _tag, _name, href in language_switch()},
        **{f"alternate:{hreflang}": str(escape(href)) for hreflang, href in alternates()},
    }


def _request_parts(challenge: object) -> dict[str, str]:
    """This request's part of the blank form: the links of its address (the same for every visitor of it, so kept
    too), its CSRF token and its challenge."""
    links = _cache().links.get((request.path, request.query_string), _links)
    parts = {**links, "csrf": str(escape(current_app.jinja_env.globals["csrf_token"]()))}  # type: ignore[operator]
    if challenge is not None:
        parts["challenge"] = _tojson(challenge)
    return parts


def blank_sign_form(initiative: Initiative, country: str, partner: Partner | None, challenge: object) -> str:
    """The sign form as a GET shows it (`country` chosen, or ""; brought by `partner`, or None): cut once per
    revision, language, member state and partner, filled with this request's parts. A partner's own name, website or
    logo edited moves no revision of the initiative: its id and `updated_at` are in the key."""
    values = {"country": country} if country else {}
    if partner is not None:
        values["partner"] = partner.code
    if current_app.jinja_env.auto_reload:
        return render_sign_form(initiative, values, {}, challenge, partner=partner)
    shown = None if partner is None else (partner.id, partner.updated_at)
    key = (revision(initiative), current_language(), country, shown, challenge is not None, request.script_root)
    page = _cache().pages.get(key, lambda: _render_with_slots(initiative, values, partner, challenge is not None))
    return page.fill(_request_parts(challenge))
