"""The sign form's rules (Annex III) as one pure function: the fields as typed in, a signer or every error out.

No Flask, no database: the same function serves the HTTP form, and its tests run in milliseconds. Error messages
are message ids (marked with `N_` for extraction) with their parameters; the page translates them where it shows
them, in the signer's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .age import old_enough
from .countries import is_country
from .id_numbers import InvalidNumber, birth_date_from_number, never_tells_age, validate_number
from .member_states import MemberState, id_documents
from .normalize import normalize_document_number


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "translate later")
    """Marks a message for the catalog without translating it here."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """Marks a message and its plural for the catalog as one entry (ngettext's pair), translated where shown."""
    return singular, plural


MAX_LENGTHS = {
    "first_names": 200,
    "family_names": 200,
    "street": 200,
    "postal_code": 16,
    "city": 100,
    "id_number": 40,
    "email": 254,
}
TEXT_FIELDS = tuple(MAX_LENGTHS)
FORM_ORDER = (
    "country",
    "first_names",
    "family_names",
    "date_of_birth",
    "street",
    "postal_code",
    "city",
    "residence_country",
    "id_type",
    "id_number",
    "age_confirm",
    "email",
    "privacy_consent",
    "declaration",
)
"""The fields in the order the page shows them: the error summary lists its errors in this order."""
DATE_PARTS = ("date_of_birth_day", "date_of_birth_month", "date_of_birth_year")

MISSING = {
    "first_names": N_("Enter your first names"),
    "family_names": N_("Enter your family names"),
    "street": N_("Enter your street and house number"),
    "postal_code": N_("Enter your postal code"),
    "city": N_("Enter your city or town"),
    "email": N_("Enter your email address: you confirm your support from it"),
}
TOO_LONG = {
    "first_names": N_("First names must be 200 characters or fewer"),
    "family_names": N_("Family names must be 200 characters or fewer"),
    "street": N_("Street and number must be 200 characters or fewer"),
    "postal_code": N_("Postal code must be 16 characters or fewer"),
    "city": N_("City must be 100 characters or fewer"),
    "id_number": N_("Document number must be 40 characters or fewer"),
    "email": N_("Email address must be 254 characters or fewer"),
}
NOT_LETTERS = {
    "first_names": N_("Enter your first names in letters"),
    "family_names": N_("Enter your family names in letters"),
    "city": N_("Enter your city or town in letters"),
}


DIGIT_COUNT = N_plural("%(document)s numbers have %(num)d digit", "%(document)s numbers have %(num)d digits")


@dataclass(frozen=True)
class Problem:
    """One error beside one field: a message id and its parameters, translated where it is shown."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None  # with `plural`, params["num"] picks the form

    def text(self, gettext: Callable[..., str], ngettext: Callable[..., str]) -> str:
        if self.plural is not None:
            rest = {key: value for key, value in self.params.items() if key != "num"}
            return ngettext(self.message, self.plural, self.params["num"], **rest)
        return gettext(self.message, **self.params)


@dataclass(frozen=True)
class SigningRules:
    """What an initiative froze for one member state: its Annex III part, minimum age and accepted documents."""

    code: str
    data_part: str
    min_age: int
    id_types: tuple[str, ...]

    @classmethod
    def of(cls, state: MemberState) -> SigningRules:
        return cls(state.code, state.data_part, state.min_age, state.id_types)


@dataclass(frozen=True)
class Signer:
    """A valid submission, typed and cleaned; the personal part is sealed, never stored as is."""

    country: str
    first_names: str
    family_names: str
    date_of_birth: date | None
    street: str
    postal_code: str
    city: str
    residence_country: str
    id_type: str
    id_number: str
    id_number_key: str  # the checked, compact form that identifies the document (fingerprint input)
    email: str
    updates_consent: bool

    def personal_data(self) -> dict[str, str]:
        """The fields that go into the sealed blob, as the signer typed them (Unicode NFC)."""
        values = {
            "first_names": self.first_names,
            "family_names": self.family_names,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else "",
            "street": self.street,
            "postal_code": self.postal_code,
            "city": self.city,
            "residence_country": self.residence_country,
            "id_type": self.id_type,
            "id_number": self.id_number,
        }
        return {key: unicodedata.normalize("NFC", value) for key, value in values.items()}


@dataclass(frozen=True)
class Checked:
    """The outcome: a signer, or the errors by field name (every one of them, never the first only)."""

    signer: Signer | None
    errors: dict[str, Problem]


def _has_control_characters(text: str) -> bool:
    """Control and format characters (Cc, Cf, Cs, Co, Cn) never belong in a name, an address or a number."""
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def _ticked(form: Mapping[str, str], name: str) -> bool:
    return (form.get(name) or "").strip().lower() in {"y", "yes", "on", "1", "true"}


# --- date of birth --------------------------------------------------------------------------------------------------

_YEAR_FIRST = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})")  # 1990-03-25, 1990/3/25
_DAY_FIRST = re.compile(r"([0-9]{1,2})[./-]([0-9]{1,2})[./-]([0-9]{4})")  # 25.03.1990, 25/3/1990 (European order)


def parse_birth_date(form: Mapping[str, str]) -> tuple[date | None, Problem | None]:
    """The three boxes (day, month, year) when any is filled in, else `date_of_birth` as YYYY-MM-DD or D.M.YYYY."""
    day, month, year = ((form.get(name) or "").strip() for name in DATE_PARTS)
    if day or month or year:
        for value, missing in (
            (day, N_("Date of birth must include a day")),
            (month, N_("Date of birth must include a month")),
            (year, N_("Date of birth must include a year")),
        ):
            if not value:
                return None, Problem(missing)
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            return None, Problem(N_("Date of birth must be a real date, in numbers"))
        if len(year) != 4:
            return None, Problem(N_("Year must include 4 numbers"))
        parts = (year, month, day)
    else:
        raw = (form.get("date_of_birth") or "").strip()
        if not raw:
            return None, Problem(N_("Enter your date of birth"))
        if match := _YEAR_FIRST.fullmatch(raw):
            parts = match.groups()
        elif match := _DAY_FIRST.fullmatch(raw):
            parts = match.group(3), match.group(2), match.group(1)
        else:
            return None, Problem(N_("Enter your date of birth as day, month and year, for example 25 3 1990"))
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])), None
    except ValueError:
        return None, Problem(N_("Date of birth must be a real date"))


# --- the whole form -------------------------------------------------------------------------------------------------


def _too_young(rules: SigningRules) -> Problem:
    return Problem(
        N_("Citizens of this member state (%(country)s) can sign from the age of %(age)d"),
        {"country": rules.code, "age": rules.min_age},
    )


def _check_document(
    form: Mapping[str, str], rules: SigningRules, number: str, today: date, errors: dict[str, Problem]
) -> tuple[str, str]:
    """(id_type, checked number) of a Part B signer; adds every error it finds, the age box's included."""
    id_type = (form.get("id_type") or "").strip()
    if id_type not in rules.id_types:
        errors["id_type"] = Problem(N_("Choose the document you give the number of"))
        return "", ""
    document = id_documents().get((rules.code, id_type))
    name = document.name if document else id_type
    key = ""
    if "id_number" not in errors:
        compact = normalize_document_number(number)
        if not number:
            errors["id_number"] = Problem(N_("Enter the number of your %(document)s"), {"document": name})
        elif document and document.digits and compact.isdigit() and len(compact) != document.digits:
            singular, plural = DIGIT_COUNT
            errors["id_number"] = Problem(singular, {"document": name, "num": document.digits}, plural=plural)
        else:
            try:
                key = validate_number(rules.code, id_type, number)
            except InvalidNumber:
                errors["id_number"] = Problem(
                    N_("Check the number of your %(document)s: it is not a valid one"), {"document": name}
                )
    birth = birth_date_from_number(rules.code, id_type, key) if key else None
    if birth is not None:
        if not old_enough(birth, today, rules.min_age):
            errors["id_number"] = _too_young(rules)
    elif (key or never_tells_age(rules.code, id_type)) and not _ticked(form, "age_confirm"):
        # the number tells no age, or it could not be read and this document never tells it: the box must
        errors["age_confirm"] = Problem(N_("Confirm that you are at least %(age)d years old"), {"age": rules.min_age})
    return id_type, key


def validate(
    form: Mapping[str, str],
    countries: Mapping[str, SigningRules],
    today: date,
    *,
    check_deliverability: bool = False,
) -> Checked:
    """Check every field for the chosen member state and report every error at once."""
    errors: dict[str, Problem] = {}
    country = (form.get("country") or "").strip().upper()
    rules = countries.get(country)
    if rules is None:
        errors["country"] = Problem(N_("Choose the member state of your nationality"))

    part_a = rules is not None and rules.data_part == "A"
    # only the fields the signer's part asks for are read: the others are neither shown nor kept
    shown = ("street", "postal_code", "city") if part_a else ("id_number",) if rules is not None else ()
    values = dict.fromkeys(TEXT_FIELDS, "")
    for name in ("first_names", "family_names", *shown, "email"):
        value = (form.get(name) or "").strip()
        if _has_control_characters(value):
            errors[name] = Problem(N_("Remove the invisible or control characters"))
        elif len(value) > MAX_LENGTHS[name]:
            errors[name] = Problem(TOO_LONG[name])
        values[name] = value

    needed = ["first_names", "family_names"] + (["street", "postal_code", "city"] if part_a else [])
    for name in needed:
        if name in errors:
            continue
        if not values[name]:
            errors[name] = Problem(MISSING[name])
        elif name in NOT_LETTERS and not any(ch.isalpha() for ch in values[name]):
            errors[name] = Problem(NOT_LETTERS[name])

    birth: date | None = None
    residence = id_type = key = ""
    if rules is not None and part_a:
        birth, problem = parse_birth_date(form)
        if problem is not None:
            errors["date_of_birth"] = problem
        elif birth is not None:
            if birth > today:
                errors["date_of_birth"] = Problem(N_("Date of birth must be in the past"))
            elif birth.year < 1900:
                errors["date_of_birth"] = Problem(N_("Date of birth must be after 1900"))
            elif not old_enough(birth, today, rules.min_age):
                errors["date_of_birth"] = _too_young(rules)
        residence = (form.get("residence_country") or "").strip().upper()
        if not residence:
            errors["residence_country"] = Problem(N_("Choose the country you live in"))
        elif not is_country(residence):
            errors["residence_country"] = Problem(N_("Choose the country you live in from the list"))
    elif rules is not None:
        id_type, key = _check_document(form, rules, values["id_number"], today, errors)

    email = ""
    if "email" not in errors:
        if not values["email"]:
            errors["email"] = Problem(MISSING["email"])
        else:
            try:
                email = validate_email(values["email"], check_deliverability=check_deliverability).normalized
            except EmailNotValidError:
                errors["email"] = Problem(N_("Enter an email address in the correct format, like name@example.org"))
    if not _ticked(form, "privacy_consent"):
        errors["privacy_consent"] = Problem(N_("Accept the privacy statement to sign"))
    if not _ticked(form, "declaration"):
        errors["declaration"] = Problem(N_("Confirm the declaration to sign"))

    if errors or rules is None:
        return Checked(None, {name: errors[name] for name in FORM_ORDER if name in errors})
    return Checked(
        Signer(
            country=country,
            first_names=values["first_names"],
            family_names=values["family_names"],
            date_of_birth=birth if part_a else None,
            street=values["street"] if part_a else "",
            postal_code=values["postal_code"] if part_a else "",
            city=values["city"] if part_a else "",
            residence_country=residence if part_a else "",
            id_type=id_type,
            id_number=values["id_number"] if not part_a else "",
            id_number_key=key,
            email=email,
            updates_consent=_ticked(form, "updates_consent"),
        ),
        {},
    )
