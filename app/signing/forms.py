"""The sign form as a page: what the signer typed, each error beside its field, and the choices their member state
offers. The rules themselves are `app.eci.signer.validate`, a pure function."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from flask_babel import gettext, lazy_gettext, ngettext

from ..eci.countries import country_name, residence_countries, sort_key
from ..eci.id_numbers import needs_age_confirmation
from ..eci.member_states import id_documents
from ..eci.signer import DATE_PARTS, Problem, SigningRules, parse_birth_date
from ..models import Initiative

ID_TYPE_LABELS = {
    "personal_number": lazy_gettext("Personal identification number"),
    "id_card": lazy_gettext("Identity card"),
    "passport": lazy_gettext("Passport"),
    "citizen_card": lazy_gettext("Citizen card"),
}


def signing_rules(initiative: Initiative) -> dict[str, SigningRules]:
    """The rules the initiative froze for each of its member states."""
    return {
        c.country_code: SigningRules(c.country_code, c.data_part, c.min_age, tuple(c.id_type_list))
        for c in initiative.countries
    }


def document_label(country: str, id_type: str) -> str:
    """ "PESEL (Personal identification number)": the country's own name beside the translated generic one."""
    generic = str(ID_TYPE_LABELS[id_type])
    document = id_documents().get((country, id_type))
    return f"{document.name} ({generic})" if document else generic


def number_hint(country: str, id_type: str) -> str | None:
    document = id_documents().get((country, id_type))
    if document is None or not document.pattern:
        return None
    if document.digits:
        return ngettext(
            "%(num)d digit, written like %(pattern)s",
            "%(num)d digits, written like %(pattern)s",
            document.digits,
            pattern=document.pattern,
        )
    return gettext("Written like %(pattern)s (9 stands for a digit, A for a letter)", pattern=document.pattern)


def problem_text(problem: Problem, locale: str) -> str:
    """An error in the signer's language; a country code among its parameters becomes the country's name."""
    if "country" in problem.params:
        problem = Problem(
            problem.message,
            {**problem.params, "country": country_name(problem.params["country"], locale)},
            problem.plural,
        )
    return problem.text(gettext, ngettext)


def rules_json(rules_by_country: Mapping[str, SigningRules]) -> str:
    """What the page's script needs to change fields in place, in the request's language; the server checks all of
    it again."""
    data = {
        code: {
            "part": rules.data_part,
            "min_age": rules.min_age,
            "id_types": [[t, document_label(code, t), number_hint(code, t) or ""] for t in rules.id_types],
            "age_confirm": [t for t in rules.id_types if needs_age_confirmation(code, t)],
            "age_label": gettext("I confirm that I am at least %(age)d years old.", age=rules.min_age),
        }
        for code, rules in rules_by_country.items()
    }
    # < and > escaped so that nothing in the JSON can close the <script> element it sits in
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


@dataclass(frozen=True)
class FormChoices:
    """The parts of the form that depend only on the initiative's member states and the language: the same for every
    signer, so app.signing.page_cache makes them once per initiative revision and language."""

    rules_json: str
    country_choices: list[tuple[str, str]]
    residence_choices: list[tuple[str, str]]


def form_choices(rules_by_country: Mapping[str, SigningRules], locale: str) -> FormChoices:
    """The member states to choose from (by their names in `locale`), the countries of residence, the rules' JSON."""
    names = sorted(((code, country_name(code, locale)) for code in rules_by_country), key=lambda p: sort_key(p[1]))
    choose = gettext("Choose…")
    return FormChoices(
        rules_json=rules_json(rules_by_country),
        country_choices=[("", choose), *names],
        residence_choices=[("", choose), *residence_countries(locale)],
    )


@dataclass
class SignPage:
    """Everything sign.html shows; built from the initiative, what was typed and the errors found."""

    initiative: Initiative
    rules_by_country: Mapping[str, SigningRules]
    values: Mapping[str, str]
    locale: str = "en"
    problems: Mapping[str, Problem] = field(default_factory=dict)
    choices: FormChoices | None = None
    """Made once per initiative and language (app.signing.page_cache); made here when not given."""

    @cached_property
    def _choices(self) -> FormChoices:
        return self.choices or form_choices(self.rules_by_country, self.locale)

    @cached_property
    def errors(self) -> dict[str, str]:
        return {name: problem_text(problem, self.locale) for name, problem in self.problems.items()}

    @cached_property
    def rules(self) -> SigningRules | None:
        return self.rules_by_country.get((self.values.get("country") or "").strip().upper())

    def value(self, name: str) -> str:
        value = (self.values.get(name) or "").strip()
        if name == "country":
            return value.upper()
        if (
            name == "residence_country"
            and not value
            and self.rules
            and self.rules.data_part == "A"
            and name not in self.problems
        ):
            return self.rules.code  # most people live in the country of their nationality
        return value

    def ticked(self, name: str) -> bool:
        return (self.values.get(name) or "").strip().lower() in {"y", "yes", "on", "1", "true"}

    def date_part(self, name: str, part: str) -> str:
        """A box as typed; from a `date_of_birth` sent whole (a scripted client), its part once it reads as a date."""
        if any((self.values.get(box) or "").strip() for box in DATE_PARTS):
            return (self.values.get(f"{name}_{part}") or "").strip()
        if (self.values.get(name) or "").strip():
            birth, _problem = parse_birth_date({"date_of_birth": self.values.get(name, "")})
            if birth is not None:
                return str({"day": birth.day, "month": birth.month, "year": birth.year}[part])
        return ""

    def anchor(self, name: str) -> str:
        """Where the error summary's link takes the signer: the first box of a group."""
        return f"{name}_day" if name == "date_of_birth" else name

    @property
    def country_choices(self) -> list[tuple[str, str]]:
        return self._choices.country_choices

    @property
    def residence_choices(self) -> list[tuple[str, str]]:
        return self._choices.residence_choices

    @cached_property
    def document_choices(self) -> list[tuple[str, str]]:
        if self.rules is None:
            return []
        return [(t, document_label(self.rules.code, t)) for t in self.rules.id_types]

    @property
    def number_hint(self) -> str | None:
        if self.rules is None or not self.rules.id_types:
            return None
        chosen = self.value("id_type")
        return number_hint(self.rules.code, chosen if chosen in self.rules.id_types else self.rules.id_types[0])

    @property
    def show_age_confirm(self) -> bool:
        rules = self.rules
        if rules is None or rules.data_part != "B":
            return False
        chosen = self.value("id_type")
        types = [chosen] if chosen in rules.id_types else list(rules.id_types[:1])
        return any(needs_age_confirmation(rules.code, t) for t in types) or "age_confirm" in self.problems

    @property
    def rules_json(self) -> str:
        """What the page's script needs to change fields in place; the server checks all of it again."""
        return self._choices.rules_json
