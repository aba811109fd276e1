"""An initiative's own words in each language: title, summary and objectives, written per language on the manage
page. The default language's are on the initiative itself; a language without its own shows the default's, and the
page says so (issue 8, point 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup

from .extensions import db
from .initiatives import InitiativeError, text_problem
from .models import Initiative, InitiativeText

TEXT_FIELDS = ("title", "summary", "objectives")


@dataclass(frozen=True)
class ShownText:
    """What a signer reading `locale` sees of the initiative's own words, and in which language each part is."""

    title: str
    summary: str
    objectives: str
    locale: str
    default_locale: str
    from_default: frozenset[str]
    """The fields shown in the default language because `locale` has none of its own."""

    @property
    def fell_back(self) -> bool:
        return bool(self.from_default)

    def lang(self, name: str) -> Markup:
        """` lang="en"` on an element whose words are in the default language, not the page's (WCAG 3.1.2)."""
        if name not in self.from_default:
            return Markup("")
        return Markup(' lang="{}"').format(self.default_locale.replace("_", "-"))

    def marked(self, name: str) -> Markup:
        """The field's words, escaped, in a `<span lang>` where they are in the default language: for a title quoted
        inside a sentence of the page's language (WCAG 3.1.2, language of parts)."""
        words = getattr(self, name)
        if name not in self.from_default:
            return Markup("{}").format(words)
        return Markup("<span{}>{}</span>").format(self.lang(name), words)


def text_in(initiative: Initiative, locale: str) -> InitiativeText | None:
    return next((text for text in initiative.texts if text.locale == locale), None)


def shown_text(initiative: Initiative, locale: str) -> ShownText:
    """The initiative's words in `locale`, each part falling back to the default language where `locale` has none."""
    own = None if locale == initiative.default_locale else text_in(initiative, locale)
    values: dict[str, str] = {}
    from_default: set[str] = set()
    for name in TEXT_FIELDS:
        translated = getattr(own, name) if own is not None else ""
        default = getattr(initiative, name)
        values[name] = translated or default
        if not translated and default and locale != initiative.default_locale:
            from_default.add(name)
    return ShownText(
        **values, locale=locale, default_locale=initiative.default_locale, from_default=frozenset(from_default)
    )


def save_text(
    initiative: Initiative, locale: str, values: Mapping[str, str], languages: Sequence[str]
) -> dict[str, list[str]]:
    """Write (or, all fields empty, delete) the initiative's words in `locale`; returns {field: [before, after]}."""
    if initiative.is_final:
        raise InitiativeError(_("a submitted or withdrawn initiative cannot be changed"))
    if locale not in languages:
        raise InitiativeError(_("not a language of this instance: %(code)s", code=locale), "locale")
    if locale == initiative.default_locale:
        raise InitiativeError(
            _("this is the initiative's default language: its text is in the initiative's own fields"), "locale"
        )
    cleaned = {name: (values.get(name) or "").strip() for name in TEXT_FIELDS}
    text = text_in(initiative, locale)
    before = {name: getattr(text, name) if text is not None else "" for name in TEXT_FIELDS}
    if not any(cleaned.values()):
        if text is not None:
            initiative.texts.remove(text)
            db.session.flush()
        return {name: [before[name], ""] for name in TEXT_FIELDS if before[name]}
    errors = {name: problem for name in TEXT_FIELDS if (problem := text_problem(name, cleaned[name]))}
    if not cleaned["title"]:
        errors["title"] = _("the title is empty: a text in another language needs its own title")
    if errors:
        raise InitiativeError(errors)
    if text is None:
        text = InitiativeText(locale=locale)
        initiative.texts.append(text)
    for name in TEXT_FIELDS:
        setattr(text, name, cleaned[name])
    db.session.flush()
    return {name: [before[name], cleaned[name]] for name in TEXT_FIELDS if before[name] != cleaned[name]}


def change_default_locale(initiative: Initiative, locale: str) -> None:
    """Say the initiative's own fields are in `locale`. Where `locale` had a text of its own, the two swap places:
    that text becomes the initiative's fields, and the fields become the text of the old default language."""
    old = initiative.default_locale
    if locale == old:
        return
    text = text_in(initiative, locale)
    if text is not None:
        main = {name: getattr(initiative, name) for name in TEXT_FIELDS}
        for name in TEXT_FIELDS:
            setattr(initiative, name, getattr(text, name))
        initiative.texts.remove(text)
        db.session.flush()  # the row of `locale` goes before the old default's takes a place beside it
        initiative.texts.append(InitiativeText(locale=old, **main))
    initiative.default_locale = locale
    db.session.flush()
