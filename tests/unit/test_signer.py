"""The sign form's rules (Annex III) against `validate()` itself: no app, no database, no HTTP.

Every case passes `today` explicitly (a fixed day, never the clock), and reads the errors as the page shows them:
each field's message rendered with plain stand-ins for gettext and ngettext.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from app.eci.id_numbers import birth_date_from_number
from app.eci.member_states import id_documents, member_states
from app.eci.signer import Checked, Problem, Signer, SigningRules, validate

from ..support.factories import CNP, EGN, PESEL, part_a, part_b

TODAY = date(2025, 6, 15)
RULES = {code: SigningRules.of(state) for code, state in member_states().items()}
PART_A_STATES = [code for code, rules in RULES.items() if rules.data_part == "A"]

DATE_FORMAT = "Enter your date of birth as day, month and year, for example 25 3 1990"
REAL_DATE = "Date of birth must be a real date"
BAD_EMAIL = "Enter an email address in the correct format, like name@example.org"
WRONG_DOCUMENT = "Choose the document you give the number of"
BE_NUMBER = "Rijksregisternummer / Numéro de registre national"


def gettext(message: str, **params: Any) -> str:
    return message % params if params else message


def ngettext(singular: str, plural: str, num: int, **params: Any) -> str:
    return (singular if num == 1 else plural) % {"num": num, **params}


def check(data: dict[str, str], today: date = TODAY, rules: dict[str, SigningRules] = RULES) -> Checked:
    checked = validate(data, rules, today)
    assert (checked.signer is None) == bool(checked.errors), checked  # a signer exactly when nothing is wrong
    return checked


def errors(data: dict[str, str], today: date = TODAY) -> dict[str, str]:
    """Every error by field, as the page shows it (in English)."""
    return {name: problem.text(gettext, ngettext) for name, problem in check(data, today).errors.items()}


def signed(data: dict[str, str], today: date = TODAY) -> Signer:
    checked = check(data, today)
    assert checked.signer is not None, errors(data, today)
    return checked.signer


def boxes(day: str, month: str, year: str, **overrides: str) -> dict[str, str]:
    """Part A data with the date of birth in the three boxes, as the form sends it."""
    data = without(part_a(), "date_of_birth")
    return data | {"date_of_birth_day": day, "date_of_birth_month": month, "date_of_birth_year": year} | overrides


def without(data: dict[str, str], *names: str) -> dict[str, str]:
    return {name: value for name, value in data.items() if name not in names}


def born(country: str, birth: date) -> str:
    """A valid national number of `country` for someone born on `birth`: the check digits are found by trying them."""
    century = birth.year >= 2000
    stem, width = {
        "PL": (f"{birth:%y}{birth.month + 20 * century:02d}{birth:%d}0123", 1),  # PESEL: the century in the month
        "BE": (f"{birth:%y%m%d}033", 2),  # the check digits tell the century
        "EE": (f"{5 if century else 3}{birth:%y%m%d}012", 1),
        "RO": (f"{5 if century else 1}{birth:%y%m%d}40123", 1),
    }[country]
    for tail in range(10**width):
        number = f"{stem}{tail:0{width}d}"
        if birth_date_from_number(country, "personal_number", number) == birth:
            return number
    raise AssertionError(f"no {country} number for {birth}")


# -- valid submissions -----------------------------------------------------------------------------------------------


def test_part_a_gives_a_typed_and_cleaned_signer() -> None:
    signer = signed(
        part_a(first_names=" Zoë Anna ", email=" Zoe@Example.ORG ", residence_country="be", updates_consent="y")
    )
    assert signer == Signer(
        country="DE",
        first_names="Zoë Anna",
        family_names="Müller-Lüdenscheidt",
        date_of_birth=date(1980, 2, 29),
        street="Hauptstraße 12",
        postal_code="10115",
        city="Berlin",
        residence_country="BE",
        id_type="",
        id_number="",
        id_number_key="",
        email="Zoe@example.org",  # the domain lower-cased, the local part as typed
        updates_consent=True,
    )
    assert signer.personal_data()["date_of_birth"] == "1980-02-29"


def test_part_b_gives_a_signer_with_the_checked_number() -> None:
    signer = signed(part_b(country="se", id_number="880320-0016"))
    assert (signer.country, signer.id_type, signer.id_number, signer.id_number_key) == (
        "SE",
        "personal_number",
        "880320-0016",  # as typed, for the sealed statement
        "198803200016",  # the compact key that identifies the document
    )
    assert (signer.date_of_birth, signer.street, signer.residence_country, signer.updates_consent) == (
        None,
        "",
        "",
        False,
    )


def test_fields_of_the_other_part_are_ignored() -> None:
    a = signed(part_a(id_type="passport", id_number="P1234567", age_confirm="y"))
    assert (a.id_type, a.id_number, a.id_number_key) == ("", "", "")
    b = signed(
        part_b(date_of_birth="1990-03-25", street="ul. Marszałkowska 1", city="Warszawa", residence_country="PL")
    )
    assert (b.date_of_birth, b.street, b.city, b.residence_country) == (None, "", "", "")


def test_personal_data_is_nfc() -> None:
    decomposed = "Zoe\u0308 Anna"  # "Zoë" with a combining diaeresis, as some keyboards send it
    assert signed(part_a(first_names=decomposed)).personal_data()["first_names"] == "Zoë Anna"


@pytest.mark.parametrize(
    "name",
    ["Zoë Anna", "Ἀλέξανδρος", "Иван", "Łukasz", "Ó Súilleabháin", "d'Artagnan", "Jean-Pierre", "Nguyễn", "李", "Ħ"],
)
def test_names_in_any_script_are_letters(name: str) -> None:
    assert signed(part_a(first_names=name, family_names=name)).first_names == name


@pytest.mark.parametrize("value", ["y", "Y", "yes", "on", "1", "true", " y "])
def test_a_ticked_box_in_any_spelling(value: str) -> None:
    assert signed(part_a(privacy_consent=value, declaration=value, updates_consent=value)).updates_consent


# -- every member state ----------------------------------------------------------------------------------------------

PART_B_NUMBERS: dict[tuple[str, str], str] = {
    ("BE", "personal_number"): "85.07.30-033 28",
    ("BG", "personal_number"): "8032056031",
    ("CZ", "id_card"): "203456789",
    ("CZ", "passport"): "40123456",
    ("EE", "personal_number"): "36805280109",
    ("ES", "id_card"): "54362315-K",
    ("ES", "passport"): "PAA123456",
    ("HR", "personal_number"): "HR 33392005961",
    ("IT", "passport"): "YA1234567",
    ("IT", "id_card"): "CA00000AA",
    ("CY", "id_card"): "1234567",
    ("CY", "passport"): "K00123456",
    ("LV", "personal_number"): "161175-19997",
    ("LT", "personal_number"): "33309240064",
    ("HU", "id_card"): "123456AB",
    ("HU", "passport"): "BE1234567",
    ("HU", "personal_number"): "1-800101-1234",
    ("MT", "id_card"): "0123456M",
    ("AT", "passport"): "P1234567",
    ("AT", "id_card"): "1234567",
    ("PL", "personal_number"): PESEL,
    ("PT", "id_card"): "12345678",
    ("PT", "passport"): "P123456",
    ("PT", "citizen_card"): "00000000 0 ZZ4",
    ("RO", "id_card"): "RX123456",
    ("RO", "passport"): "051234567",
    ("RO", "personal_number"): CNP,
    ("SI", "personal_number"): "0101006500006",
    ("SE", "personal_number"): "880320-0016",
}


def test_the_table_covers_every_document_of_every_part_b_state() -> None:
    expected = {(code, t) for code, rules in RULES.items() if rules.data_part == "B" for t in rules.id_types}
    assert set(PART_B_NUMBERS) == expected
    assert len(RULES) == 27
    assert len(PART_A_STATES) == 27 - len({code for code, _ in PART_B_NUMBERS})


@pytest.mark.parametrize("country", PART_A_STATES)
def test_every_part_a_state_can_sign(country: str) -> None:
    signer = signed(part_a(country=country, residence_country="BE"))
    assert (signer.country, signer.date_of_birth, signer.residence_country, signer.id_number) == (
        country,
        date(1980, 2, 29),
        "BE",
        "",
    )


@pytest.mark.parametrize(("country", "id_type"), sorted(PART_B_NUMBERS))
def test_every_part_b_state_and_document_can_sign(country: str, id_type: str) -> None:
    number = PART_B_NUMBERS[(country, id_type)]
    data = part_b(country=country, id_type=id_type, id_number=number)
    if birth_date_from_number(country, id_type, number) is None:  # the box stands in for the number
        assert errors(data) == {"age_confirm": f"Confirm that you are at least {RULES[country].min_age} years old"}
        data["age_confirm"] = "y"
    signer = signed(data)
    assert (signer.country, signer.id_type, signer.id_number, signer.street) == (country, id_type, number, "")
    assert signer.id_number_key


def test_only_the_countries_the_initiative_froze() -> None:
    frozen = {"DE": RULES["DE"], "PL": RULES["PL"]}
    assert check(part_a(), rules=frozen).signer is not None
    assert check(part_a(country="FR", residence_country="FR"), rules=frozen).errors == {
        "country": Problem("Choose the member state of your nationality")
    }


# -- missing fields --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("first_names", "Enter your first names"),
        ("family_names", "Enter your family names"),
        ("date_of_birth", "Enter your date of birth"),
        ("street", "Enter your street and house number"),
        ("postal_code", "Enter your postal code"),
        ("city", "Enter your city or town"),
        ("residence_country", "Choose the country you live in"),
        ("email", "Enter your email address: you confirm your support from it"),
        ("privacy_consent", "Accept the privacy statement to sign"),
        ("declaration", "Confirm the declaration to sign"),
    ],
)
def test_part_a_missing_field(field: str, message: str) -> None:
    assert errors(without(part_a(), field)) == {field: message}  # that field, and nothing else
    assert errors(part_a(**{field: ""})) == {field: message}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("first_names", "Enter your first names"),
        ("family_names", "Enter your family names"),
        ("id_type", WRONG_DOCUMENT),
        ("id_number", "Enter the number of your PESEL"),
        ("email", "Enter your email address: you confirm your support from it"),
        ("privacy_consent", "Accept the privacy statement to sign"),
        ("declaration", "Confirm the declaration to sign"),
    ],
)
def test_part_b_missing_field(field: str, message: str) -> None:
    assert errors(without(part_b(), field)) == {field: message}


def test_the_number_is_asked_by_the_name_of_the_document() -> None:
    assert errors(part_b(country="ES", id_type="id_card", id_number="", age_confirm="y")) == {
        "id_number": "Enter the number of your DNI (Documento Nacional de Identidad)"
    }
    # a document that never tells the age asks for the box as well
    assert errors(part_b(country="CZ", id_type="passport", id_number="")) == {
        "id_number": "Enter the number of your Cestovní pas",
        "age_confirm": "Confirm that you are at least 18 years old",
    }


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t", "\n", " \r\n "])
@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("first_names", "Enter your first names"),
        ("family_names", "Enter your family names"),
        ("street", "Enter your street and house number"),
        ("city", "Enter your city or town"),
    ],
)
def test_blank_and_whitespace_only(field: str, message: str, blank: str) -> None:
    assert errors(part_a(**{field: blank})) == {field: message}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_names", "1234", "Enter your first names in letters"),
        ("first_names", "---", "Enter your first names in letters"),
        ("family_names", "1234", "Enter your family names in letters"),
        ("family_names", "'.'", "Enter your family names in letters"),
        ("city", "10115", "Enter your city or town in letters"),
    ],
)
def test_not_letters(field: str, value: str, message: str) -> None:
    assert errors(part_a(**{field: value})) == {field: message}


def test_numbers_are_fine_in_a_street_and_postal_code() -> None:
    signer = signed(part_a(street="12", postal_code="D02 X285"))
    assert (signer.street, signer.postal_code) == ("12", "D02 X285")


def test_control_characters_and_overlong_values() -> None:
    assert errors(part_a(first_names="Zoë\u200bAnna")) == {"first_names": "Remove the invisible or control characters"}
    assert errors(part_a(city="x" * 101)) == {"city": "City must be 100 characters or fewer"}
    assert signed(part_a(city="x" * 100)).city == "x" * 100


# -- country and residence -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["", "  ", "US", "GB", "CH", "EU", "XX", "Germany", "DEU"])
def test_unknown_country(country: str) -> None:
    assert errors(part_a(country=country)) == {"country": "Choose the member state of your nationality"}


def test_without_a_country_the_common_fields_are_still_checked() -> None:
    assert errors({}) == {
        "country": "Choose the member state of your nationality",
        "first_names": "Enter your first names",
        "family_names": "Enter your family names",
        "email": "Enter your email address: you confirm your support from it",
        "privacy_consent": "Accept the privacy statement to sign",
        "declaration": "Confirm the declaration to sign",
    }


@pytest.mark.parametrize("country", [" de ", "de", "De"])
def test_country_code_in_any_case(country: str) -> None:
    assert signed(part_a(country=country)).country == "DE"


@pytest.mark.parametrize(
    ("residence", "expected"),
    [("DE", "DE"), ("fr", "FR"), ("CH", "CH"), ("US", "US"), ("XK", "XK"), (" be ", "BE")],
)
def test_residence_can_be_any_country(residence: str, expected: str) -> None:
    assert signed(part_a(residence_country=residence)).residence_country == expected


@pytest.mark.parametrize("residence", ["Germany", "XX", "EU", "ZZ", "DEU", "D"])
def test_residence_not_a_country(residence: str) -> None:
    assert errors(part_a(residence_country=residence)) == {
        "residence_country": "Choose the country you live in from the list"
    }


# -- age -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "birth", "problem"),
    [
        ("DE", date(2009, 6, 15), None),  # 16 today: old enough in Germany
        ("DE", date(2009, 6, 16), "Citizens of this member state (DE) can sign from the age of 16"),  # 16 tomorrow
        ("FI", date(2009, 6, 15), None),
        ("GR", date(2008, 6, 15), None),  # 17 in Greece
        ("GR", date(2008, 6, 16), "Citizens of this member state (GR) can sign from the age of 17"),
        ("FR", date(2007, 6, 15), None),
        (
            "FR",
            date(2008, 6, 15),
            "Citizens of this member state (FR) can sign from the age of 18",
        ),  # 17 is too young in France
        ("IE", date(2015, 1, 1), "Citizens of this member state (IE) can sign from the age of 18"),
        ("DE", date(2025, 6, 15), "Citizens of this member state (DE) can sign from the age of 16"),  # born today
        ("DE", date(2025, 6, 16), "Date of birth must be in the past"),
        ("DE", date(2030, 1, 1), "Date of birth must be in the past"),
        ("DE", date(1900, 1, 1), None),
        ("DE", date(1899, 12, 31), "Date of birth must be after 1900"),
    ],
)
def test_age_by_date_of_birth(country: str, birth: date, problem: str | None) -> None:
    data = part_a(country=country, residence_country=country, date_of_birth=birth.isoformat())
    assert errors(data) == ({"date_of_birth": problem} if problem else {})


def test_too_young_names_the_country_and_age_in_its_parameters() -> None:
    [problem] = check(part_a(country="FR", date_of_birth="2010-01-01")).errors.values()
    assert problem == Problem(
        "Citizens of this member state (%(country)s) can sign from the age of %(age)d", {"country": "FR", "age": 18}
    )


@pytest.mark.parametrize(
    ("today", "old_enough"),
    [(date(2024, 2, 28), False), (date(2024, 2, 29), True), (date(2025, 2, 28), True), (date(2026, 3, 1), True)],
)
def test_age_is_judged_on_the_day_given(today: date, old_enough: bool) -> None:
    data = part_a(date_of_birth="2008-02-29")  # 16 on 29 February 2024
    assert (check(data, today).signer is not None) is old_enough


@pytest.mark.parametrize(
    ("country", "birth", "problem"),
    [
        ("PL", date(2015, 6, 15), "Citizens of this member state (PL) can sign from the age of 18"),  # ten years old
        ("PL", date(2007, 6, 16), "Citizens of this member state (PL) can sign from the age of 18"),  # 18 tomorrow
        ("PL", date(2007, 6, 15), None),  # 18 today
        ("PL", date(1944, 5, 14), None),
        ("BE", date(2009, 6, 16), "Citizens of this member state (BE) can sign from the age of 16"),
        ("BE", date(2009, 6, 15), None),
        ("EE", date(2010, 1, 1), "Citizens of this member state (EE) can sign from the age of 16"),
        ("EE", date(2009, 6, 15), None),
        ("RO", date(2008, 1, 1), "Citizens of this member state (RO) can sign from the age of 18"),
        ("RO", date(2007, 6, 1), None),
    ],
)
def test_age_by_national_number(country: str, birth: date, problem: str | None) -> None:
    number = born(country, birth)
    data = part_b(country=country, id_number=number)
    assert errors(data) == ({"id_number": problem} if problem else {})
    # ticking the box does not overrule the number
    assert errors(data | {"age_confirm": "y"}) == ({"id_number": problem} if problem else {})


@pytest.mark.parametrize(
    ("country", "id_type", "number", "min_age"),
    [
        ("CZ", "passport", "40123456", 18),
        ("CZ", "id_card", "203456789", 18),
        ("AT", "passport", "P1234567", 16),
        ("MT", "id_card", "0123456M", 16),
        ("ES", "id_card", "54362315-K", 18),  # the DNI carries no date
        ("HR", "personal_number", "33392005961", 18),  # nor does the OIB
        ("LV", "personal_number", "328673-00679", 18),  # Latvian codes issued since July 2017 carry no date
        ("LT", "personal_number", "90000000129", 18),  # Lithuanian codes starting with 9 neither
        ("BE", "personal_number", "00000100195", 16),  # a Belgian number with an unknown birth date
    ],
)
def test_age_box_where_the_number_tells_no_age(country: str, id_type: str, number: str, min_age: int) -> None:
    data = part_b(country=country, id_type=id_type, id_number=number)
    assert errors(data) == {"age_confirm": f"Confirm that you are at least {min_age} years old"}
    assert check(data).errors["age_confirm"] == Problem(
        "Confirm that you are at least %(age)d years old", {"age": min_age}
    )
    assert signed(data | {"age_confirm": "y"}).id_number == number
    assert errors(data | {"age_confirm": "n"}) == {"age_confirm": f"Confirm that you are at least {min_age} years old"}


@pytest.mark.parametrize(
    ("country", "number"),
    [("BE", "85.07.30-033 28"), ("BE", "85073003328"), ("PL", PESEL), ("BG", EGN), ("RO", CNP), ("SE", "880320-0016")],
)
def test_no_age_box_where_the_number_tells_the_age(country: str, number: str) -> None:
    assert signed(part_b(country=country, id_number=number)).id_number == number


# -- document numbers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "number", "message"),
    [
        ("PL", "44051401358", "Check the number of your PESEL: it is not a valid one"),  # check digit off by one
        ("PL", "02381307589", "Check the number of your PESEL: it is not a valid one"),  # 38th month
        ("PL", "ABCDEFGHIJK", "Check the number of your PESEL: it is not a valid one"),
        ("PL", "4405140135X", "Check the number of your PESEL: it is not a valid one"),
        ("PL", "4405140135", "PESEL numbers have 11 digits"),
        ("PL", "440514013590", "PESEL numbers have 11 digits"),
        ("PL", "4", "PESEL numbers have 11 digits"),
        ("BE", "85.07.30-033 2", f"{BE_NUMBER} numbers have 11 digits"),
        ("BE", "85.07.30-033 29", f"Check the number of your {BE_NUMBER}: it is not a valid one"),
        ("RO", "163061512345", "CNP (Cod Numeric Personal) numbers have 13 digits"),
        ("RO", "1630615123458", "Check the number of your CNP (Cod Numeric Personal): it is not a valid one"),
        ("BG", "7552A10004", "Check the number of your ЕГН (Единен граждански номер): it is not a valid one"),
        ("SE", "880320-0018", "Check the number of your Personnummer: it is not a valid one"),
        ("LV", "161375-19997", "Check the number of your Personas kods: it is not a valid one"),  # 13th month
        (
            "LV",
            "40003521600",
            "Check the number of your Personas kods: it is not a valid one",
        ),  # a company's VAT number
    ],
)
def test_invalid_national_numbers(country: str, number: str, message: str) -> None:
    assert errors(part_b(country=country, id_number=number)) == {"id_number": message}


@pytest.mark.parametrize(
    ("country", "id_type", "number", "document"),
    [
        ("ES", "id_card", "54362315-Z", "DNI (Documento Nacional de Identidad)"),
        ("PT", "citizen_card", "00000000 0 ZZ3", "Cartão de Cidadão"),
        ("CZ", "passport", "1234", "Cestovní pas"),  # too short for any passport
        ("IT", "passport", "ÄB1234567", "Passaporto"),  # not Latin letters
        ("AT", "id_card", "1234567890123456789012", "Personalausweis"),
        ("CY", "id_card", "12 34 5!", "Δελτίο Ταυτότητας"),
        ("HR", "personal_number", "HR 33392005962", "OIB (Osobni identifikacijski broj)"),  # the OIB carries no date
    ],
)
def test_invalid_document_numbers_also_ask_for_the_age_box(
    country: str, id_type: str, number: str, document: str
) -> None:
    """These documents never tell the age: a wrong number does not hide the missing box."""
    assert errors(part_b(country=country, id_type=id_type, id_number=number)) == {
        "id_number": f"Check the number of your {document}: it is not a valid one",
        "age_confirm": f"Confirm that you are at least {RULES[country].min_age} years old",
    }


def test_digit_count_is_a_plural_message() -> None:
    [problem] = check(part_b(id_number="4405140135")).errors.values()
    assert problem == Problem(
        "%(document)s numbers have %(num)d digit",
        {"document": "PESEL", "num": 11},
        plural="%(document)s numbers have %(num)d digits",
    )
    one = Problem(problem.message, {"document": "thing", "num": 1}, problem.plural)
    assert one.text(gettext, ngettext) == "thing numbers have 1 digit"


def test_digit_count_message_reads_well_for_every_document() -> None:
    wrong = {}
    for (country, id_type), document in id_documents().items():
        if document.digits:
            text = errors(part_b(country=country, id_type=id_type, id_number="1", age_confirm="y"))["id_number"]
            if re.match(r"A [AEIOUÄÖÜ]", text):
                wrong[country] = text
    assert wrong == {}


@pytest.mark.parametrize(
    ("country", "id_type"),
    [
        ("PL", "passport"),
        ("PL", "id_card"),
        ("CZ", "personal_number"),
        ("ES", "citizen_card"),
        ("PL", "driving_licence"),
        ("PL", "PERSONAL_NUMBER"),
        ("PL", ""),
    ],
)
def test_id_type_not_of_the_country(country: str, id_type: str) -> None:
    data = part_b(country=country, id_type=id_type, id_number="P1234567", age_confirm="y")
    assert errors(data) == {"id_type": WRONG_DOCUMENT}


# -- email -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "zoe",
        "zoe@",
        "@example.org",
        "zoe@example",
        "zoe example.org",
        "zoe@@example.org",
        "zoe@example..org",
        "zoe.@example.org",
        "zoe@example.org>",
        "<zoe@example.org>",
        "Zoë <zoe@example.org>",
        "zoe@-example.org",
    ],
)
def test_bad_email(address: str) -> None:
    assert errors(part_a(email=address)) == {"email": BAD_EMAIL}


@pytest.mark.parametrize(
    ("address", "normalized"),
    [
        ("zoe@example.org", "zoe@example.org"),
        ("  zoe@example.org\n", "zoe@example.org"),
        ("Zoe.Muller@Example.ORG", "Zoe.Muller@example.org"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("zoe+eci@example.org", "zoe+eci@example.org"),
        ("zoë@example.org", "zoë@example.org"),
        ("info@münchen.de", "info@münchen.de"),
    ],
)
def test_good_email(address: str, normalized: str) -> None:
    assert signed(part_a(email=address)).email == normalized


def test_overlong_email() -> None:
    address = "z" * 64 + "@" + ".".join(["example"] * 24) + ".org"
    assert len(address) > 254
    assert errors(part_a(email=address)) == {"email": "Email address must be 254 characters or fewer"}


# -- privacy statement and declaration -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " ", "n", "no", "0", "false", "off", "yes please"])
@pytest.mark.parametrize(
    ("box", "message"),
    [("privacy_consent", "Accept the privacy statement to sign"), ("declaration", "Confirm the declaration to sign")],
)
def test_both_boxes_must_be_ticked(box: str, message: str, value: str) -> None:
    assert errors(part_a(**{box: value})) == {box: message}
    assert errors(part_b(**{box: value})) == {box: message}


def test_updates_are_optional() -> None:
    assert signed(part_a()).updates_consent is False
    assert signed(part_a(updates_consent="")).updates_consent is False
    assert signed(part_a(updates_consent="y")).updates_consent is True


# -- date of birth ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "month", "year", "birth"),
    [
        ("25", "3", "1990", date(1990, 3, 25)),
        ("25", "03", "1990", date(1990, 3, 25)),
        ("5", "11", "1962", date(1962, 11, 5)),
        ("05", "11", "1962", date(1962, 11, 5)),
        (" 5 ", " 11 ", " 1962 ", date(1962, 11, 5)),
        ("29", "2", "1980", date(1980, 2, 29)),
        ("31", "12", "1999", date(1999, 12, 31)),
        ("1", "1", "1900", date(1900, 1, 1)),
        ("15", "6", "2009", date(2009, 6, 15)),  # 16 today
    ],
)
def test_three_boxes(day: str, month: str, year: str, birth: date) -> None:
    assert signed(boxes(day, month, year)).date_of_birth == birth


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "3", "1990", "Date of birth must include a day"),
        ("25", "", "1990", "Date of birth must include a month"),
        ("25", "3", "", "Date of birth must include a year"),
        ("", "", "1990", "Date of birth must include a day"),
        ("25", " ", " ", "Date of birth must include a month"),
        ("25", "3", "90", "Year must include 4 numbers"),
        ("25", "3", "199", "Year must include 4 numbers"),
        ("25", "3", "01990", "Year must include 4 numbers"),
        ("31", "2", "1990", REAL_DATE),
        ("29", "2", "2023", REAL_DATE),  # not a leap year
        ("31", "4", "1990", REAL_DATE),
        ("25", "13", "1990", REAL_DATE),
        ("0", "3", "1990", REAL_DATE),
        ("25", "0", "1990", REAL_DATE),
        ("25", "March", "1990", "Date of birth must be a real date, in numbers"),
        ("25th", "3", "1990", "Date of birth must be a real date, in numbers"),
        ("-5", "3", "1990", "Date of birth must be a real date, in numbers"),
        ("2.5", "3", "1990", "Date of birth must be a real date, in numbers"),
        ("25", "3", "1899", "Date of birth must be after 1900"),
        ("16", "6", "2025", "Date of birth must be in the past"),
        ("16", "6", "2009", "Citizens of this member state (DE) can sign from the age of 16"),
    ],
)
def test_three_boxes_wrong(day: str, month: str, year: str, message: str) -> None:
    assert errors(boxes(day, month, year)) == {"date_of_birth": message}


def test_the_boxes_win_over_a_whole_date() -> None:
    assert signed(boxes("25", "3", "1990", date_of_birth="1980-02-29")).date_of_birth == date(1990, 3, 25)
    assert errors(boxes("25", "", "1990", date_of_birth="1980-02-29")) == {
        "date_of_birth": "Date of birth must include a month"
    }
    # three empty boxes are no date: the whole one counts
    assert signed(boxes("", "", "", date_of_birth="1980-02-29")).date_of_birth == date(1980, 2, 29)
    assert errors(boxes("", " ", "")) == {"date_of_birth": "Enter your date of birth"}


@pytest.mark.parametrize(
    ("typed", "birth"),
    [
        ("1980-02-29", date(1980, 2, 29)),
        ("1990-3-25", date(1990, 3, 25)),
        ("1980-2-29", date(1980, 2, 29)),
        ("1980/02/29", date(1980, 2, 29)),
        ("1990/3/25", date(1990, 3, 25)),
        ("25.03.1990", date(1990, 3, 25)),  # German, Polish, Finnish...
        ("25.3.1990", date(1990, 3, 25)),
        ("29.02.1980", date(1980, 2, 29)),
        ("25/03/1990", date(1990, 3, 25)),  # French, Spanish, Italian...
        ("5/11/1962", date(1962, 11, 5)),  # day first: 5 November
        ("25-03-1990", date(1990, 3, 25)),  # Dutch, Danish
        (" 1980-02-2", date(1980, 2, 2)),
        ("  25.03.1990\n", date(1990, 3, 25)),
    ],
)
def test_whole_date_formats_accepted(typed: str, birth: date) -> None:
    assert signed(part_a(date_of_birth=typed)).date_of_birth == birth


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("80-02-29", DATE_FORMAT),
        ("29.02.80", DATE_FORMAT),
        ("19800229", DATE_FORMAT),
        ("29021980", DATE_FORMAT),
        ("yesterday", DATE_FORMAT),
        ("29 February 1980", DATE_FORMAT),
        ("1980-W01-1", DATE_FORMAT),
        ("1980-02-29T10", DATE_FORMAT),
        ("1980-02-29 00:00", DATE_FORMAT),
        ("1980-02-30", REAL_DATE),
        ("1981-02-29", REAL_DATE),
        ("31.04.1990", REAL_DATE),
        ("03/25/1990", REAL_DATE),  # month first is read day first: there is no 25th month
        ("1899-12-31", "Date of birth must be after 1900"),
    ],
)
def test_whole_date_formats_refused(typed: str, message: str) -> None:
    assert errors(part_a(date_of_birth=typed)) == {"date_of_birth": message}


# -- every error at once ---------------------------------------------------------------------------------------------


def test_several_errors_in_part_a() -> None:
    assert errors(part_a(date_of_birth="soon", email="nope", postal_code="")) == {
        "date_of_birth": DATE_FORMAT,
        "postal_code": "Enter your postal code",
        "email": BAD_EMAIL,
    }


def test_missing_names_email_and_declaration_at_once() -> None:
    data = without(part_a(), "first_names", "family_names", "email", "declaration")
    assert errors(data) == {
        "first_names": "Enter your first names",
        "family_names": "Enter your family names",
        "email": "Enter your email address: you confirm your support from it",
        "declaration": "Confirm the declaration to sign",
    }


def test_a_bad_spanish_dni_does_not_hide_the_missing_age_box() -> None:
    data = part_b(country="ES", id_type="id_card", id_number="54362315-X", email="", privacy_consent="")
    assert errors(data) == {
        "id_number": "Check the number of your DNI (Documento Nacional de Identidad): it is not a valid one",
        "age_confirm": "Confirm that you are at least 18 years old",
        "email": "Enter your email address: you confirm your support from it",
        "privacy_consent": "Accept the privacy statement to sign",
    }


def test_everything_wrong_in_part_a() -> None:
    data = boxes(
        "31",
        "2",
        "",
        first_names="42",
        family_names=" ",
        street="",
        postal_code="",
        city="",
        residence_country="Deutschland",
        email="zoe@",
        privacy_consent="",
        declaration="",
    )
    assert errors(data) == {
        "first_names": "Enter your first names in letters",
        "family_names": "Enter your family names",
        "street": "Enter your street and house number",
        "postal_code": "Enter your postal code",
        "city": "Enter your city or town",
        "date_of_birth": "Date of birth must include a year",
        "residence_country": "Choose the country you live in from the list",
        "email": BAD_EMAIL,
        "privacy_consent": "Accept the privacy statement to sign",
        "declaration": "Confirm the declaration to sign",
    }


def test_everything_wrong_in_part_b() -> None:
    data = part_b(country="PL", first_names="", family_names="", id_number="4405140135", email="x", declaration="")
    assert errors(data) == {
        "first_names": "Enter your first names",
        "family_names": "Enter your family names",
        "id_number": "PESEL numbers have 11 digits",
        "email": BAD_EMAIL,
        "declaration": "Confirm the declaration to sign",
    }
