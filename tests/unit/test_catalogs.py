"""The catalogs stay honest: one per official language, each holding exactly the messages of the code, each message
translated (not fuzzy, not empty) with the same placeholders as the English.

English is the source language: its catalog may leave a message empty (the English text is then shown as written)
but must not hold a fuzzy or broken one. Every message a signer reads (pages and emails: `SIGNER_SOURCES`) is
translated in all 24 languages; the staff pages' messages completely in the languages of `COMPLETE`, and shown in
English in the others. Whatever is translated must be well-formed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message

from app.languages import LANGUAGES

from ..support.catalogs import (
    TEMPLATE,
    TRANSLATIONS,
    catalog_path,
    extract_afresh,
    for_signers,
    keys,
    placeholders,
    read_catalog,
)

SOURCE = "en"
COMPLETE = (
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "es",
    "fr",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
)
"""Languages whose staff pages are translated too. A language joins when its translators have filled its catalog."""

EU_LANGUAGES = {
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
}  # fmt: skip
"""The 24 official languages of the EU (Regulation No 1/1958 as amended, Article 1), written out here."""


def _staff_pages_waiting(code: str) -> list[pytest.MarkDecorator]:
    if code in COMPLETE or code == SOURCE:
        return []
    return [pytest.mark.xfail(strict=False, reason=f"{code}: staff pages shown in English (README, Languages)")]


def test_one_catalog_for_each_official_language() -> None:
    assert set(LANGUAGES) == EU_LANGUAGES and len(LANGUAGES) == 24
    found = {path.name for path in TRANSLATIONS.iterdir() if path.is_dir()}
    assert found == EU_LANGUAGES
    for code in LANGUAGES:
        catalog = read_catalog(catalog_path(code))
        assert str(catalog.locale) == code
        assert catalog.num_plurals == PLURAL_FORMS.get(code, catalog.num_plurals), code


PLURAL_FORMS = {"de": 2, "en": 2, "pl": 3, "cs": 3, "lt": 3, "ga": 5, "sl": 4}
"""How many forms a count takes in some of the languages (GNU gettext's manual, "Plural forms"): a catalog made
for another language's rule would put "2 dni" where Polish says "5 dni"."""


@pytest.fixture(scope="module")
def template() -> Catalog:
    return read_catalog(TEMPLATE)


def test_the_template_holds_every_message_of_the_code(template: Catalog, tmp_path: Path) -> None:
    """Nothing in app/ or templates/ was added, changed or removed since the last `make translations-update`."""
    fresh = keys(extract_afresh(tmp_path / "messages.pot"))
    held = keys(template)
    assert not fresh - held, f"run `make translations-update`: new in the code: {sorted(fresh - held, key=str)[:10]}"
    assert not held - fresh, f"run `make translations-update`: gone from the code: {sorted(held - fresh, key=str)[:10]}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_catalog_holds_exactly_the_templates_messages(template: Catalog, code: str) -> None:
    """`pybabel update` ran for every language: no message missing, none left over from older code."""
    held = keys(read_catalog(catalog_path(code)))
    wanted = keys(template)
    update = "run `make translations-update`"
    assert not wanted - held, f"{update}: missing from {code}: {sorted(wanted - held, key=str)[:5]}"
    assert not held - wanted, f"{update}: obsolete in {code}: {sorted(held - wanted, key=str)[:5]}"


def _forms(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, (tuple, list)) else (message.string,)


def _problems(code: str, message: Message, translated: Message | None, num_plurals: int) -> list[str]:
    """What is wrong with one message's translation, in words."""
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    label = repr(ids[0][:60])
    if translated is None:
        return [f"missing: {label}"]
    if translated.fuzzy:
        return [f"fuzzy (a guess to check, not a translation): {label}"]
    forms = _forms(translated)
    if len(ids) > 1 and len(forms) != num_plurals:
        return [f"{len(forms)} plural forms instead of {num_plurals}: {label}"]
    if not any(forms) and code == SOURCE:
        return []  # the English text as written
    problems = []
    wanted = set().union(*(placeholders(text) for text in ids))
    for form in forms:
        if not form:
            problems.append(f"not translated: {label}")
            continue
        if placeholders(form) != wanted:
            problems.append(f"placeholders {sorted(placeholders(form))} instead of {sorted(wanted)}: {label}")
        elif wanted:
            try:
                form % {name: 1 if kind == "d" else "x" for name, kind in wanted}  # noqa: B018
            except (ValueError, TypeError, KeyError) as error:
                problems.append(f"does not format ({error}; a lone % is written %%): {label}")
    return problems


def _catalog_problems(template: Catalog, code: str, wanted: bool | None) -> list[str]:
    """Problems of the messages a signer reads (`wanted` True), of the staff pages' (False), or of all (None)."""
    catalog = read_catalog(catalog_path(code), code)
    problems = [
        problem
        for message in template
        if message.id and (wanted is None or for_signers(message) == wanted)
        for problem in _problems(code, message, catalog.get(message.id, message.context), catalog.num_plurals)
    ]
    return problems + [f"Babel's check: {error}" for message, errors in catalog.check() for error in errors]


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_a_signer_reads_is_translated(template: Catalog, code: str) -> None:
    problems = _catalog_problems(template, code, True)
    assert not problems, f"{len(problems)} problems in {code}:\n" + "\n".join(problems[:30])


@pytest.mark.parametrize("code", LANGUAGES)
def test_what_is_translated_of_the_staff_pages_is_well_formed(template: Catalog, code: str) -> None:
    """A staff message may be left empty (shown in English), never fuzzy or with broken placeholders."""
    problems = [p for p in _catalog_problems(template, code, False) if not p.startswith("not translated")]
    assert not problems, f"{len(problems)} problems in {code}:\n" + "\n".join(problems[:30])


@pytest.mark.parametrize("code", [pytest.param(code, marks=_staff_pages_waiting(code)) for code in LANGUAGES])
def test_every_staff_message_is_translated(template: Catalog, code: str) -> None:
    problems = _catalog_problems(template, code, False)
    assert not problems, f"{len(problems)} problems in {code}:\n" + "\n".join(problems[:30])


@pytest.mark.parametrize(
    ("translated", "problem"),
    [
        (None, "missing"),
        (Message("Hello %(name)s", "Hallo %(name)s", flags=["fuzzy"]), "fuzzy"),
        (Message("Hello %(name)s", ""), "not translated"),
        (Message("Hello %(name)s", "Hallo"), "placeholders"),
        (Message("Hello %(name)s", "Hallo %(nom)s"), "placeholders"),
        (Message("Hello %(name)s", "Hallo %(name)d"), "placeholders"),  # a number where text goes
        (Message("Hello %(name)s", "100 % Hallo %(name)s"), "does not format"),  # a lone % (written %%)
    ],
)
def test_the_check_finds_each_kind_of_broken_translation(translated: Message | None, problem: str) -> None:
    source = Message("Hello %(name)s", "")
    [found] = _problems("de", source, translated, 2)
    assert found.startswith(problem), found
    assert _problems("de", source, Message("Hello %(name)s", "Hallo %(name)s, 100 %% da"), 2) == []


def test_the_check_counts_plural_forms_and_spares_only_englishs_empty_ones() -> None:
    plural = Message(("%(num)d day", "%(num)d days"), ("", ""))
    assert _problems("pl", plural, Message(plural.id, ("%(num)d dzień", "%(num)d dni")), 3)[0].startswith("2 plural")
    assert _problems("en", plural, Message(plural.id, ("", "")), 2) == []
    assert _problems("de", plural, Message(plural.id, ("", "")), 2)[0].startswith("not translated")
    one_form_without_number = Message(plural.id, ("ein Tag", "%(num)d Tage"))
    assert _problems("de", plural, one_form_without_number, 2)[0].startswith("placeholders")
